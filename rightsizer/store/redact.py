"""Secret values in request parameters, replaced before anything is stored.

CloudTrail leaves out most values the API models mark sensitive, but not all of them. Older
events, other tools' exports and records an attacker wrote can also carry them: a secret's
``secretString``, a parameter's ``value``, KMS ``plaintext``, a database's
``masterUserPassword``. The store keeps request parameters only to tell *which resource* a
call touched (``queries/duckdb/analysis/usage.sql`` reads about forty keys, all names, ids and
ARNs), so a secret value is never needed. Two rules, applied at any depth:

- the fields of ``data/secret_fields.csv``, by event source (``*``: any), each with its source;
- any key whose name says it holds a secret (password, passphrase, secret, token, credential,
  private key), unless its name ends like an identifier (``secretId``, ``SecretArn``,
  ``tokenName``): those name a resource and are kept, because the analysis needs them.

A redacted value becomes ``"[redacted]"``; the key stays, so the report can still say that a
call set a password.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources
from typing import Any

import orjson

REDACTED = "[redacted]"

# The words that mark a key as holding a secret, and the endings that mark it as naming one.
_SECRET_WORDS = re.compile(r"passw|passphrase|secret|token|credential|private_?key", re.I)
_IDENTIFIER_END = re.compile(
    r"(id|ids|idlist|arn|arns|name|names|type|types|version|versionid|versionstage|stage|"
    r"stages|duration|durationseconds|count|enabled|expiration|expirationtime|date|status|"
    r"policy|length|format|uri|url|region|regions)$", re.I)


@cache
def sql_secret_keys() -> str:
    """A regular expression (RE2, for the typing's SQL) that finds any key that ``secret_key``
    could call a secret, whatever the event source: a key (``"name":``, at any depth) that
    holds a secret word or the name of a field of ``data/secret_fields.csv``. Only records it
    finds, or whose text holds an escape or a character outside ASCII (a key is known only
    once decoded, and only ASCII is sure to case-fold alike here and in Python), go through
    ``redact_json`` (``queries/duckdb/ingest/type_spool.sql``)."""
    fields = sorted({f for fs in _fields().values() for f in fs})
    names = "|".join([_SECRET_WORDS.pattern, *map(re.escape, fields)])
    return rf'(?i)"[^"]*(?:{names})[^"]*"\s*:'


@cache
def _fields() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    text = resources.files("rightsizer.store").joinpath("data/secret_fields.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        table.setdefault(row["event_source"], set()).add(row["field"].lower())
    return {source: frozenset(fields) for source, fields in table.items()}


def secret_key(event_source: str | None, key: str) -> bool:
    """Whether the value under ``key`` in a request of ``event_source`` is a secret."""
    fields = _fields()
    lowered = key.lower()
    if lowered in fields.get("*", ()) or lowered in fields.get(event_source or "", ()):
        return True
    return bool(_SECRET_WORDS.search(key)) and not _IDENTIFIER_END.search(key)


def redact_value(event_source: str | None, value: Any) -> tuple[Any, int]:
    """``value`` with every secret replaced, and how many were."""
    if isinstance(value, dict):
        out = {}
        count = 0
        for key, item in value.items():
            if secret_key(event_source, str(key)) and item is not None:
                out[key] = REDACTED
                count += 1
            else:
                out[key], n = redact_value(event_source, item)
                count += n
        return out, count
    if isinstance(value, list):
        items = [redact_value(event_source, item) for item in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def redact_json(event_source: str | None, text: str | None) -> str | None:
    """Request parameters (JSON text) with every secret replaced; text that is not JSON is
    dropped whole (it cannot be checked)."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    redacted, count = redact_value(event_source, value)
    return orjson.dumps(redacted).decode() if count else text
