"""usage.sql's request_key, for any requestParameters: the parameters that name a resource, as
the compact JSON object athena.request_key builds from Athena's rows.

The texts are the same but for one thing: DuckDB writes the hex digits of an escaped control
character in upper case (``\\u000F``), orjson in lower case. The parsed keys are the same, and a
call's resources are derived from the parsed key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightsizer.sources.athena import PARAMETERS
from rightsizer.sqlfiles import sql
from rightsizer.store.database import Store

ROLE = "arn:aws:iam::111122223333:role/app"


def reference_key(parameters: Any) -> str:
    """What usage.sql's header says the key is, written out in Python."""
    picked: dict[str, Any] = {}
    if not isinstance(parameters, dict):
        return "{}"
    for name in PARAMETERS:
        if name not in parameters:
            continue
        value = parameters[name]
        if name == "key" and not isinstance(value, str):
            continue  # DynamoDB's key is the item's key attributes, not a resource
        if name == "requestItems":
            value = list(value) if isinstance(value, dict) else []
        if name == "transactItems":
            value = [inner["tableName"] for item in value if isinstance(item, dict)
                     for inner in item.values()
                     if isinstance(inner, dict) and "tableName" in inner
                     ] if isinstance(value, list) else []
        if value is None or value == []:
            continue
        picked[name] = value
    return orjson.dumps(picked).decode()


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("request-key") / "s.duckdb"
    Store(path).close()  # the store's schema, as every run has it
    connection = duckdb.connect(str(path))
    connection.execute(sql("duckdb/analysis/error_class"))
    connection.execute(sql("duckdb/analysis/role_key"))
    yield connection
    connection.close()


def usage_keys(con: duckdb.DuckDBPyConnection, parameters: list[Any]) -> list[str]:
    """The request_key of one call per ``parameters``, each on its own day."""
    con.execute("DELETE FROM events")
    con.executemany(
        "INSERT INTO events (event_id, event_time, event_source, event_name, principal, "
        "identity_type, request_parameters, source) VALUES (?, TIMESTAMP '2026-10-01' + "
        "to_days(?), 's3.amazonaws.com', 'GetObject', ?, 'AssumedRole', ?::JSON, 'f')",
        [(f"e{n}", n, ROLE, orjson.dumps(p).decode()) for n, p in enumerate(parameters)])
    rows = con.execute(f"SELECT day, request_key FROM ({sql('duckdb/analysis/usage')}) "
                       "ORDER BY day", [None, None, None]).fetchall()
    return [_ESCAPE.sub(lambda m: m.group(0).lower(), key) for _day, key in rows]


# A \uXXXX escape, not an escaped backslash before the letter u: the backslashes before it pair.
_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u[0-9A-F]{4}")


# JSON as CloudTrail can hold it: any text (quotes, backslashes, control characters, any
# script), integers, booleans, nulls, and lists and objects of them.
_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12)
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
_transact = st.lists(st.dictionaries(
    st.sampled_from(["put", "update", "conditionCheck"]),
    st.fixed_dictionaries({}, optional={"tableName": _json, "key": _json})), max_size=3)
_value = {"requestItems": st.dictionaries(st.text(max_size=6), _json, max_size=3) | _json,
          "transactItems": _transact | _json}
_parameters = st.fixed_dictionaries(
    {}, optional={**{name: _value.get(name, _json) for name in PARAMETERS},
                  # Not a resource parameter, or not spelled as one: never in the key.
                  "Key": _json, "bucketname": _json, "body": _json}) | _json


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_parameters, min_size=1, max_size=5))
def test_the_request_key_is_the_resource_parameters_present_in_order(
        con: duckdb.DuckDBPyConnection, parameters: list[Any]) -> None:
    assert usage_keys(con, parameters) == [reference_key(p) for p in parameters]


@pytest.mark.parametrize(("parameters", "key"), [
    ({"bucketName": "b", "key": "k/1", "range": "bytes=0-9"}, '{"bucketName":"b","key":"k/1"}'),
    ({"tableName": "t", "key": {"id": {"S": "1"}}}, '{"tableName":"t"}'),
    ({"requestItems": {"t1": [], "t2": {}}}, '{"requestItems":["t1","t2"]}'),
    ({"requestItems": {}}, "{}"),
    ({"transactItems": [{"put": {"tableName": "a"}}, {"update": {"tableName": "b"}}]},
     '{"transactItems":["a","b"]}'),
    ({"secretId": None, "name": [], "path": ""}, '{"path":""}'),
    ({"key": "a\"b\\c\u00e9\n", "bucketName": "b"},
     '{"bucketName":"b","key":"a\\"b\\\\c\u00e9\\n"}'),
    (None, "{}"),
    ([{"bucketName": "b"}], "{}"),
])
def test_a_request_key_written_out(con: duckdb.DuckDBPyConnection, parameters: Any,
                                   key: str) -> None:
    assert usage_keys(con, [parameters]) == [key] == [reference_key(parameters)]


def test_the_paths_follow_the_athena_parameters() -> None:
    """The key's order is PARAMETERS' order: usage.sql's paths and its keys, one for one."""
    # The statement alone: a comment may quote a path or a key.
    local = "\n".join(line.split("--", 1)[0] for line in sql("duckdb/analysis/usage").splitlines())
    paths = [local.index(f"'$.{name}'" if "-" not in name else f"'$.\"{name}\"'")
             for name in PARAMETERS]
    keys = [local.index(f"'\"{name}\":'") for name in PARAMETERS]
    assert paths == sorted(paths)
    assert keys == sorted(keys)
