"""Issue 12, case 9: secret values in request parameters never reach the store, on the fast and
the careful path; the names the analysis needs (secretId, keyId) are kept; the store and its
lock are owner-only."""

from __future__ import annotations

import gzip
import json
import stat
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from helpers import delivery_path, event, write_delivery
from hypothesis import given, settings
from hypothesis import strategies as st

import rightsizer
from rightsizer.store.redact import REDACTED, redact_value, secret_key
from rightsizer.store.staging import type_spool

DAY = datetime(2026, 10, 1)


@pytest.mark.parametrize(("source", "key", "secret"), [
    ("secretsmanager.amazonaws.com", "secretString", True),
    ("secretsmanager.amazonaws.com", "secretBinary", True),
    ("secretsmanager.amazonaws.com", "secretId", False),  # the resource: usage.sql reads it
    ("secretsmanager.amazonaws.com", "secretIdList", False),
    ("ssm.amazonaws.com", "value", True),
    ("ec2.amazonaws.com", "value", False),  # a tag's value
    ("kms.amazonaws.com", "plaintext", True),
    ("kms.amazonaws.com", "keyId", False),
    ("rds.amazonaws.com", "masterUserPassword", True),
    ("redshift.amazonaws.com", "masterUserPassword", True),
    ("dms.amazonaws.com", "password", True),
    ("cognito-idp.amazonaws.com", "session", True),
    ("cognito-idp.amazonaws.com", "authParameters", True),
    ("sts.amazonaws.com", "tokenCode", True),
    ("sts.amazonaws.com", "sAMLAssertion", True),
    ("sts.amazonaws.com", "roleSessionName", False),
    ("sts.amazonaws.com", "roleArn", False),
    ("lambda.amazonaws.com", "secretAccessKey", True),
    ("anything.amazonaws.com", "dbPassword", True),
    ("anything.amazonaws.com", "clientSecret", True),
    ("anything.amazonaws.com", "PrivateKey", True),
    ("anything.amazonaws.com", "apiToken", True),
    ("anything.amazonaws.com", "SecretArn", False),
    ("anything.amazonaws.com", "credentialProviderName", False),
    ("anything.amazonaws.com", "tokenType", False),
    ("anything.amazonaws.com", "bucketName", False),
])
def test_which_keys_hold_secrets(source: str, key: str, secret: bool) -> None:
    assert secret_key(source, key) is secret


def test_secrets_are_replaced_at_any_depth_and_names_kept() -> None:
    params = {"endpoint": {"serverName": "db", "password": "pw1"},
              "list": [{"x": {"secretString": "s1"}}, {"secretId": "keep-me"}],
              "password": None}
    redacted, count = redact_value("dms.amazonaws.com", params)
    assert count == 2
    assert redacted == {"endpoint": {"serverName": "db", "password": REDACTED},
                        "list": [{"x": {"secretString": REDACTED}}, {"secretId": "keep-me"}],
                        "password": None}


SECRETS = {
    "hunter2-secret-string": ("secretsmanager.amazonaws.com", "PutSecretValue",
                              {"secretId": "prod/db", "secretString": "hunter2-secret-string"}),
    "c2VjcmV0LWJpbmFyeQ": ("secretsmanager.amazonaws.com", "CreateSecret",
                           {"name": "b", "secretBinary": "c2VjcmV0LWJpbmFyeQ"}),
    "ssm-secure-value": ("ssm.amazonaws.com", "PutParameter",
                         {"name": "/app/key", "type": "SecureString", "value": "ssm-secure-value"}),
    "master-pw-123": ("rds.amazonaws.com", "CreateDBInstance",
                      {"dBInstanceIdentifier": "db1", "masterUserPassword": "master-pw-123"}),
    "kms-plaintext-AAAA": ("kms.amazonaws.com", "Encrypt",
                           {"keyId": "alias/app", "plaintext": "kms-plaintext-AAAA"}),
    "dms-pw-nested": ("dms.amazonaws.com", "CreateEndpoint",
                      {"endpointIdentifier": "e", "settings": [{"password": "dms-pw-nested"}]}),
    "cognito-PASSWORD": ("cognito-idp.amazonaws.com", "InitiateAuth",
                         {"authFlow": "USER_PASSWORD_AUTH",
                          "authParameters": {"USERNAME": "u", "PASSWORD": "cognito-PASSWORD"}}),
    "ASIASECRETKEYVALUE": ("sts.amazonaws.com", "Whatever",
                           {"credentials": {"accessKeyId": "ASIA1",
                                            "secretAccessKey": "ASIASECRETKEYVALUE",
                                            "sessionToken": "FwoGZXIvYXdzEJr"}}),
}


@pytest.mark.parametrize("pretty", [False, True], ids=["fast-path", "careful-path"])
def test_no_secret_value_is_stored(tmp_path: Path, pretty: bool) -> None:
    records = [event(n, eventSource=source, eventName=name, requestParameters=params)
               for n, (source, name, params) in enumerate(SECRETS.values(), start=1)]
    path = delivery_path(tmp_path / "logs", DAY, "secrets")
    path.parent.mkdir(parents=True)
    option = orjson.OPT_INDENT_2 if pretty else 0
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records}, option=option)))
    db = tmp_path / "s.duckdb"
    summary = rightsizer.ingest([str(tmp_path / "logs")], db, workers=1)
    assert summary.bad_inputs == () and summary.events_ingested == len(SECRETS)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT * FROM events").fetchall()
        params = [json.loads(r[0]) for r in con.execute(
            "SELECT request_parameters FROM events ORDER BY event_id").fetchall()]
    everything = repr(rows)
    for value in [*SECRETS, "FwoGZXIvYXdzEJr"]:
        assert value not in everything
    raw = db.read_bytes()
    assert not any(value.encode() in raw for value in SECRETS)
    # What names a resource is kept, and the key says a secret was there.
    assert params[0] == {"secretId": "prod/db", "secretString": REDACTED}
    assert params[4]["keyId"] == "alias/app" and params[4]["plaintext"] == REDACTED
    assert params[7] == {"credentials": REDACTED}  # the key says it: credentials
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_the_usage_query_still_sees_the_secret_a_call_read(tmp_path: Path) -> None:
    record = event(1, eventSource="secretsmanager.amazonaws.com", eventName="GetSecretValue",
                   requestParameters={"secretId": "arn:aws:secretsmanager:us-east-1:"
                                      "111122223333:secret:prod/db-AbCdEf"})
    write_delivery(delivery_path(tmp_path / "logs", DAY, "get"), [record])
    db = tmp_path / "s.duckdb"
    rightsizer.ingest([str(tmp_path / "logs")], db, workers=1)
    with rightsizer.Store(db, read_only=True) as store:
        keys = [row.request_key for row in store.usage()]
    assert keys and "prod/db-AbCdEf" in keys[0]


@pytest.mark.parametrize("pretty", [False, True], ids=["fast-path", "careful-path"])
def test_a_secret_under_a_key_with_an_escaped_character_is_not_stored(
        tmp_path: Path, pretty: bool) -> None:
    """The typing sends a record to the redaction only when its text may hold a secret's key;
    a key with an escaped quote in it must not slip past that test."""
    keys = ['password"x', 'x\\y-secret', 'sessionToken"', '\\"clientSecret']
    records = [event(n, eventSource="rds.amazonaws.com", eventName="CreateDBInstance",
                     requestParameters={"dBInstanceIdentifier": "db1",
                                        "nested": [{key: f"hunter{n}-escaped"}]})
               for n, key in enumerate(keys, start=1)]
    path = delivery_path(tmp_path / "logs", DAY, "escaped")
    path.parent.mkdir(parents=True)
    option = orjson.OPT_INDENT_2 if pretty else 0
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records}, option=option)))
    db = tmp_path / "s.duckdb"
    assert rightsizer.ingest([str(tmp_path / "logs")], db, workers=1).events_ingested == 4
    with duckdb.connect(str(db), read_only=True) as con:
        stored = [json.loads(text) for (text,) in con.execute(
            "SELECT request_parameters FROM events ORDER BY event_id").fetchall()]
    assert stored == [{"dBInstanceIdentifier": "db1", "nested": [{key: REDACTED}]}
                      for key in keys]


# Key names built from the pieces the test in SQL looks at: secret words and fields, the
# endings of identifiers, quotes and backslashes, and letters that case-fold oddly (the Kelvin
# sign folds to k, the long s to s, the dotted capital I lowers to two characters).
_KEY_PIECES = st.sampled_from(["pass", "w", "ord", "secret", "Token", "session", "value",
                               "private", "_", "key", "Id", "Arn", "name", "s", '"', "\\", "K",
                               "\u017f", "\u0130", "\u212a", "é", " ", "x"])
_KEYS = st.lists(_KEY_PIECES, min_size=1, max_size=5).map("".join)
_SOURCES = st.sampled_from(["secretsmanager.amazonaws.com", "ssm.amazonaws.com",
                            "cognito-idp.amazonaws.com", "sts.amazonaws.com", "s3.amazonaws.com"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_SOURCES, _KEYS, st.booleans()), min_size=1, max_size=12))
def test_the_typing_never_stores_a_value_the_redaction_calls_secret(
        tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, str, bool]]) -> None:
    """Whatever the key: when redact.secret_key calls it a secret for the record's source, its
    value is not in what the typing writes for the store."""
    folder = tmp_path_factory.mktemp("spool")
    spool = folder / "chunk.ndjson"
    lines = []
    for n, (source, key, nested) in enumerate(records):
        params = {"bucketName": "b", key: f"value-{n:03d}-hidden"}
        record = {"__s": 0, "eventID": f"id-{n}", "eventTime": "2026-10-01T00:00:00Z",
                  "eventSource": source, "eventName": "Call",
                  "requestParameters": {"outer": [params]} if nested else params}
        lines.append(orjson.dumps(record))
    spool.write_bytes(b"\n".join(lines) + b"\n")
    typed = type_spool(spool)
    with duckdb.connect() as con:
        stored = dict(con.execute("SELECT event_id, request_parameters FROM read_parquet(?)",
                                  [str(typed)]).fetchall())
    for n, (source, key, _nested) in enumerate(records):
        if secret_key(source, key):
            assert f"value-{n:03d}-hidden" not in stored[f"id-{n}"], (source, key)
