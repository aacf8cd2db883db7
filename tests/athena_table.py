"""The Athena CloudTrail table, recreated in DuckDB from raw delivery files, for the equivalence
tests.

Athena reads the delivery files through the CloudTrail SerDe into the columns of
queries/athena/create_table_*.sql: JSON keys matched case-insensitively to lower-case columns,
``requestparameters`` (and the other JSON-holding columns) as the JSON text, and the partition
columns ``account``, ``region`` and ``timestamp`` (the delivery date) from the object's place in
the layout. Here the same rows are made from the same files, duplicates and late deliveries
included, so that the Athena usage query, transpiled to DuckDB by sqlglot, runs over exactly what
Athena would see.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import duckdb
import orjson
import sqlglot

_LAYOUT = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/")

_STRING = "VARCHAR"
_IDENTITY = """STRUCT(
    "type" VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR,
    accesskeyid VARCHAR, username VARCHAR,
    sessioncontext STRUCT(sessionissuer STRUCT(
        "type" VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR)))"""
COLUMNS = {
    "eventversion": _STRING, "useridentity": _IDENTITY, "eventtime": _STRING,
    "eventsource": _STRING, "eventname": _STRING, "awsregion": _STRING,
    "sourceipaddress": _STRING, "useragent": _STRING, "errorcode": _STRING,
    "errormessage": _STRING, "requestparameters": _STRING, "responseelements": _STRING,
    "additionaleventdata": _STRING, "requestid": _STRING, "eventid": _STRING,
    "readonly": _STRING, "resources": 'STRUCT(arn VARCHAR, accountid VARCHAR, "type" VARCHAR)[]',
    "eventtype": _STRING, "apiversion": _STRING, "recipientaccountid": _STRING,
    "sharedeventid": _STRING, "vpcendpointid": _STRING, "eventcategory": _STRING,
    "account": _STRING, "region": _STRING, "timestamp": _STRING,
}
_JSON_TEXT = {"requestparameters", "responseelements", "additionaleventdata"}


def _lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower(): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def athena_row(record: dict[str, Any], account: str, region: str, day: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in record.items():
        column = key.lower()
        if column not in COLUMNS:
            continue
        if column in _JSON_TEXT:
            row[column] = None if value is None else orjson.dumps(value).decode()
        elif column == "readonly":
            row[column] = None if value is None else str(value).lower()
        elif COLUMNS[column] == _STRING:
            row[column] = value if isinstance(value, str) or value is None else orjson.dumps(
                value).decode()
        else:
            row[column] = _lower(value)
    row.update(account=account, region=region, timestamp=day)
    return row


def delivery_files(root: Path) -> list[Path]:
    """The CloudTrail delivery files under ``root`` (not digests)."""
    return sorted(p for p in root.rglob("*.json.gz") if _LAYOUT.search(p.as_posix()))


def create_table(con: duckdb.DuckDBPyConnection, files: list[Path], scratch: Path,
                 name: str = "cloudtrail") -> int:
    """Create ``name`` in ``con`` from ``files``; returns the number of records."""
    lines = []
    for path in files:
        match = _LAYOUT.search(path.as_posix())
        assert match, path
        account, region, year, month, day = match.groups()
        with gzip.open(path, "rb") as handle:
            records = orjson.loads(handle.read())["Records"]
        lines += [orjson.dumps(athena_row(r, account, region, f"{year}/{month}/{day}"))
                  for r in records]
    spool = scratch / f"{name}.ndjson"
    spool.write_bytes(b"\n".join(lines) + b"\n")
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items()) + "}"
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_json(?, format = "
                f"'newline_delimited', columns = {columns})", [str(spool)])
    return len(lines)


def to_duckdb(athena_sql: str) -> str:
    """An Athena (Trino) query as DuckDB SQL, by sqlglot."""
    return sqlglot.transpile(athena_sql, read="trino", write="duckdb")[0]
