"""Could CloudTrail have shown this action? "Not seen" means "unused" only when the answer is yes.

Some permissions never reach CloudTrail (``logs:PutLogEvents``), some are checked inside another
call (``iam:PassRole``), some are data events that a trail records only when it selects them
(``s3:GetObject``), and management events can be cut by a trail's read/write choice or by
``ExcludeManagementEventSources`` (KMS). DOMAIN.md section 4 lists the classes; the per-action
table is ``data/observability.csv`` with a citation per row (the CloudTrail data-events table,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html,
and the service guides). An action without a row is a management event: CloudTrail logs management
events of every service it supports (CloudTrail user guide, "Understanding CloudTrail events").

Trail settings come from ``cloudtrail:GetEventSelectors`` (classic ``EventSelectors`` or
``AdvancedEventSelectors``; CloudTrail API reference, ``EventSelector``, ``AdvancedFieldSelector``)
or from the TOML configuration. ``observability`` answers for a set of trails: an action is
observable when ANY trail would record it.

Every approximation errs towards "not observable": a wrong "not observable" keeps a permission by
rule (safe), a wrong "observable" lets an unused-looking permission be removed (breaks the task).
So:

- CloudTrail's ``readOnly`` is per API; it is approximated by the catalog's access level (read and
  list are read-only, the rest is not), with the ``read_only`` column of the table overriding it
  where the two are known to differ (KMS cryptographic calls are ``readOnly: true``).
- Several classic selectors: the read/write flags are OR-ed, but the excluded event sources are the
  union over all selectors, so a source excluded anywhere counts as excluded.
- A data selection limited to some resources (``DataResources.Values`` / ``resources.ARN``) covers
  an action only for the ARNs passed in and only when every one of them is inside the selection
  (ARN patterns only when the part before the first wildcard decides it).
- An ``eventName`` filter covers an action only when every event name that needs the action (by
  default the action's own name) passes it; ``s3:ListBucket`` is needed by ``ListObjects``, so pass
  the event names when they differ.
- A selector that filters on a field this module does not model (``userIdentity.arn``,
  ``eventType``, ...) is ignored: it may drop the role's events. The trail's ``notes`` say so.
- A single-region trail covers only its home region, and only when the call's region is given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from rightsizer.errors import ConfigError
from rightsizer.iam.catalog import AccessLevel, catalog, split_action
from rightsizer.iam.patterns import has_wildcard, matches

__all__ = [
    "DEFAULT_TRAIL",
    "ActionVisibility",
    "DataSelector",
    "FieldCondition",
    "Observability",
    "TrailSettings",
    "Visibility",
    "action_visibility",
    "data_event_types",
    "observability",
    "parse_event_selectors",
    "settings_from_config",
]


class Visibility(StrEnum):
    MANAGEMENT = "management"  # a management event (subject to read/write and excluded sources)
    DATA = "data"  # a data event, logged only if a trail selects its resource type
    NEVER = "never"  # never logged (logs:PutLogEvents, ...)
    INSIDE_OTHER_CALL = "checked_inside_other_call"  # iam:PassRole
    NO_PERMISSION = "no_permission"  # needs no permission at all


@dataclass(frozen=True, slots=True)
class ActionVisibility:
    action: str
    visibility: Visibility
    data_resource_type: str | None  # e.g. "AWS::S3::Object" (DATA only)
    source: str  # citation
    read_only: bool | None = None  # CloudTrail's readOnly; None: unknown (no catalog entry)


# -- the table --------------------------------------------------------------------------------

_TABLE = "observability.csv"
_COLUMNS = ("action", "visibility", "data_resource_type", "read_only", "source")
_DEFAULT_SOURCE = (
    "no row in observability.csv: a management event, logged by default "
    "(CloudTrail user guide, Understanding CloudTrail events)"
)


@dataclass(frozen=True, slots=True)
class _Row:
    pattern: str
    visibility: Visibility
    data_resource_type: str | None
    read_only: bool | None
    source: str
    line: int

    @property
    def specificity(self) -> int:
        """Exact rows first, then the longest literal text (``s3:GetObject*`` beats ``s3:Get*``)."""
        literal = sum(1 for ch in self.pattern if ch not in "*?")
        return literal + (10_000 if not has_wildcard(self.pattern) else 0)


def _parse_table(text: str, name: str) -> tuple[_Row, ...]:
    """Rows of the table; ValueError naming the file line of a bad one. Lines starting with ``#``
    are comments; a row is one line (no quoted newlines)."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")]
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines or tuple(next(csv.reader([lines[0][1]]))) != _COLUMNS:
        raise ValueError(f"{name}: columns must be {','.join(_COLUMNS)}")
    rows = []
    for number, line in lines[1:]:
        where = f"{name} line {number}"
        values = next(csv.reader([line]))
        if len(values) != len(_COLUMNS):
            raise ValueError(f"{where}: {len(values)} fields, not {len(_COLUMNS)}")
        raw = dict(zip(_COLUMNS, values, strict=True))
        try:
            visibility = Visibility(raw["visibility"])
        except ValueError:
            raise ValueError(f"{where}: unknown visibility {raw['visibility']!r}") from None
        data_type = raw["data_resource_type"] or None
        if (visibility is Visibility.DATA) != (data_type is not None):
            raise ValueError(f"{where}: data_resource_type is for data rows, and required there")
        flag = raw["read_only"].lower()
        if flag not in ("", "true", "false"):
            raise ValueError(f"{where}: read_only must be true, false or empty")
        read_only = None if not flag else flag == "true"
        if not raw["source"]:
            raise ValueError(f"{where}: every row needs a source")
        split_action(raw["action"])  # ValueError for a malformed action
        rows.append(_Row(raw["action"], visibility, data_type, read_only, raw["source"], number))
    return tuple(rows)


@cache
def _table() -> tuple[_Row, ...]:
    text = resources.files("rightsizer.iam").joinpath("data", _TABLE).read_text("utf-8")
    return _parse_table(text, _TABLE)


def _row_for(action: str, rows: Sequence[_Row] | None = None) -> _Row | None:
    """The most specific row matching ``action``: exact before pattern, then the longest literal
    text; equal ones: the first in the file."""
    best: _Row | None = None
    for row in _table() if rows is None else rows:
        if matches(row.pattern, action, ignore_case=True) and (
            best is None or row.specificity > best.specificity
        ):
            best = row
    return best


_PRIVATE_NOTE = re.compile(r"DOMAIN\.md(?: section \d+)?(?:,? lines? [\d-]+)?")


def public_source(source: str) -> str:
    """A table row's source as reports may show it: the public pages it cites, without the
    project's own notes (DOMAIN.md), which readers of a report cannot open."""
    cleaned = _PRIVATE_NOTE.sub("", source)
    cleaned = re.sub(r"\(\s*\)", "", cleaned)
    cleaned = re.sub(r"\s*;(\s*;)+", ";", cleaned)
    cleaned = re.sub(r"\s{2,}", " ", cleaned).strip(" ;")
    cleaned = re.sub(r"^\((https?://[^)]+)\)$", r"\1", cleaned)
    return cleaned or "the AWS documentation"


@cache
def data_event_types() -> frozenset[str]:
    """The resource types a trail's data selectors can name, as far as the table knows them."""
    return frozenset(r.data_resource_type for r in _table() if r.data_resource_type)


def action_visibility(action: str) -> ActionVisibility:
    """How CloudTrail shows ``action``: the table first, else a management event.

    ``action`` is ``service:Action`` (any case, no wildcards). An action the pinned catalog does
    not know is still answered (its ``read_only`` is None); malformed names raise ValueError."""
    split_action(action)
    if has_wildcard(action):
        raise ValueError(f"action_visibility takes one action, not a pattern: {action!r}")
    info = catalog().action(action)
    key = info.key if info else action
    row = _row_for(key)
    read_only: bool | None = None
    if info is not None:
        read_only = info.access_level in (AccessLevel.READ, AccessLevel.LIST)
    if row is not None and row.read_only is not None:
        read_only = row.read_only
    if row is None:
        return ActionVisibility(key, Visibility.MANAGEMENT, None, _DEFAULT_SOURCE, read_only)
    return ActionVisibility(key, row.visibility, row.data_resource_type, public_source(row.source),
                            read_only)


# -- trail settings ---------------------------------------------------------------------------

_OPERATORS = ("Equals", "NotEquals", "StartsWith", "NotStartsWith", "EndsWith", "NotEndsWith")


@dataclass(frozen=True, slots=True)
class FieldCondition:
    """One advanced-selector operator on one field: all its values are alternatives (OR) for the
    positive operators and all must hold (AND) for the negative ones (CloudTrail API reference,
    AdvancedFieldSelector)."""

    operator: str  # one of _OPERATORS
    values: tuple[str, ...]

    def holds(self, value: str) -> bool:
        op = self.operator
        if op == "Equals":
            return value in self.values
        if op == "NotEquals":
            return value not in self.values
        if op == "StartsWith":
            return any(value.startswith(v) for v in self.values)
        if op == "NotStartsWith":
            return not any(value.startswith(v) for v in self.values)
        if op == "EndsWith":
            return any(value.endswith(v) for v in self.values)
        return not any(value.endswith(v) for v in self.values)  # NotEndsWith

    def holds_for_pattern(self, arn: str) -> bool:
        """Whether the condition holds for every ARN an IAM pattern stands for: decided on the
        literal text before the first wildcard; anything undecidable is False."""
        cut = min((i for i, ch in enumerate(arn) if ch in "*?"), default=len(arn))
        if cut == len(arn):
            return self.holds(arn)
        literal = arn[:cut]
        if self.operator == "StartsWith":
            return any(literal.startswith(v) for v in self.values)
        if self.operator == "NotStartsWith":
            return not any(v.startswith(literal) or literal.startswith(v) for v in self.values)
        return False


@dataclass(frozen=True, slots=True)
class DataSelector:
    """The data events of one resource type a trail records."""

    resource_type: str  # "AWS::S3::Object"
    read: bool = True
    write: bool = True
    arn_conditions: tuple[FieldCondition, ...] = ()  # all must hold; () = every resource
    event_name_conditions: tuple[FieldCondition, ...] = ()  # all must hold; () = every event


@dataclass(frozen=True, slots=True)
class TrailSettings:
    """What one trail records. ``data_selectors`` are per resource type because classic selectors
    carry ``ReadWriteType`` per selector and advanced ones ``readOnly`` per selector."""

    name: str
    management_read: bool
    management_write: bool
    excluded_management_sources: tuple[str, ...]  # e.g. ("kms.amazonaws.com",)
    data_selectors: tuple[DataSelector, ...]
    source: str  # "trail arn:...", "file x.json", "configuration", "assumed default"
    multi_region: bool = True
    home_region: str | None = None
    notes: tuple[str, ...] = field(default=())  # selectors ignored or approximated, and why

    @property
    def data_resource_types(self) -> tuple[str, ...]:
        return tuple(sorted({s.resource_type for s in self.data_selectors}))


DEFAULT_TRAIL = TrailSettings(
    name="default",
    management_read=True,
    management_write=True,
    excluded_management_sources=(),
    data_selectors=(),
    source="assumed default",
)
"""What the console creates: all management events, no data events, all regions (CloudTrail user
guide, "Creating a trail with the console"; PutEventSelectors: "By default, trails created without
specific event selectors are configured to log all read and write management events, and no data
events")."""


def _bad(source: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: unreadable event selectors: {message}")


def _list_of_mappings(value: Any, what: str, source: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _bad(source, f"{what} must be a list of objects")
    return list(value)


def _strs(value: Any, what: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(source, f"{what} must be a list of strings")
    return tuple(value)


def _bool(value: Any, what: str, source: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(source, f"{what} must be true or false")
    return value


_READ_WRITE = {"All": (True, True), "ReadOnly": (True, False), "WriteOnly": (False, True)}


def _classic_scope(resource_type: str, values: tuple[str, ...]) -> tuple[FieldCondition, ...]:
    """``DataResources.Values`` as ARN conditions (CloudTrail API reference, DataResource).

    A bare ``arn:PARTITION:SERVICE`` (or S3's ``arn:PARTITION:s3:::``) selects every resource of
    the type: no condition. S3 values are bucket/prefix strings (``arn:aws:s3:::bucket/prefix``),
    so a prefix; a bucket without its slash gets one, or ``bucket`` would also cover ``bucket2``.
    Lambda functions and DynamoDB tables are named by their exact ARN: Equals, so a selected
    unqualified function does not claim to cover its qualified ARNs."""
    prefixes, exact = [], []
    for value in values:
        fields = value.split(":", 5)
        if len(fields) <= 3 or (len(fields) == 6 and fields[2] == "s3" and not fields[5]):
            return ()
        if resource_type == "AWS::S3::Object":
            prefixes.append(value if "/" in fields[-1] else value + "/")
        else:
            exact.append(value)
    if prefixes and exact:  # not a shape CloudTrail accepts; keep the narrower reading
        return (FieldCondition("Equals", tuple(exact)),)
    if prefixes:
        return (FieldCondition("StartsWith", tuple(prefixes)),)
    return (FieldCondition("Equals", tuple(exact)),)


def _parse_classic(
    selectors: list[Mapping[str, Any]], source: str
) -> tuple[bool, bool, set[str], list[DataSelector], list[str]]:
    read = write = False
    excluded: set[str] = set()
    data: list[DataSelector] = []
    notes: list[str] = []
    for number, selector in enumerate(selectors, start=1):
        where = f"EventSelectors[{number}]"
        rw = selector.get("ReadWriteType", "All")
        if rw not in _READ_WRITE:
            raise _bad(source, f"{where}.ReadWriteType must be All, ReadOnly or WriteOnly")
        sel_read, sel_write = _READ_WRITE[rw]
        if _bool(
            selector.get("IncludeManagementEvents"),
            f"{where}.IncludeManagementEvents",
            source,
            True,
        ):
            read, write = read or sel_read, write or sel_write
            excluded.update(_strs(selector.get("ExcludeManagementEventSources"), where, source))
        for resource in _list_of_mappings(selector.get("DataResources"), where, source):
            kind = resource.get("Type")
            if not isinstance(kind, str) or not kind:
                raise _bad(source, f"{where}.DataResources[].Type must be a string")
            values = _strs(resource.get("Values"), f"{where}.DataResources[].Values", source)
            if not values:
                notes.append(f"{where}: {kind} with no Values selects nothing")
                continue
            data.append(DataSelector(kind, sel_read, sel_write, _classic_scope(kind, values)))
    return read, write, excluded, data, notes


def _conditions(field_selector: Mapping[str, Any], where: str, source: str) -> list[FieldCondition]:
    conditions = []
    for op in _OPERATORS:
        values = _strs(field_selector.get(op), f"{where}.{op}", source)
        if values:
            conditions.append(FieldCondition(op, values))
    if not conditions:
        raise _bad(source, f"{where} has no operator ({', '.join(_OPERATORS)})")
    return conditions


def _read_write(conditions: list[FieldCondition]) -> tuple[bool, bool]:
    """readOnly conditions -> (records read-only events, records the others)."""
    return (
        all(c.holds("true") for c in conditions),
        all(c.holds("false") for c in conditions),
    )


def _parse_advanced(
    selectors: list[Mapping[str, Any]], source: str
) -> tuple[bool, bool, set[str], list[DataSelector], list[str]]:
    read = write = False
    excluded: set[str] = set()
    data: list[DataSelector] = []
    notes: list[str] = []
    for number, selector in enumerate(selectors, start=1):
        label = selector.get("Name") or f"AdvancedEventSelectors[{number}]"
        fields = _list_of_mappings(
            selector.get("FieldSelectors"), f"{label}.FieldSelectors", source
        )
        if not fields:
            raise _bad(source, f"{label} has no FieldSelectors")
        by_field: dict[str, list[FieldCondition]] = {}
        for fs in fields:
            name = fs.get("Field")
            if not isinstance(name, str) or not name:
                raise _bad(source, f"{label}.FieldSelectors[].Field must be a string")
            by_field.setdefault(name, []).extend(_conditions(fs, f"{label}.{name}", source))
        category = by_field.pop("eventCategory", [])
        categories = {c for c in ("Management", "Data") if all(x.holds(c) for x in category)}
        if not category or len(categories) != 1:
            notes.append(f"{label}: not a management or data selector; ignored")
            continue
        sel_read, sel_write = _read_write(by_field.pop("readOnly", []))
        if "Management" in categories:
            sources = by_field.pop("eventSource", [])
            unmodelled = sorted(by_field)
            if unmodelled or any(c.operator != "NotEquals" for c in sources):
                notes.append(
                    f"{label}: management selector filters on "
                    f"{', '.join(unmodelled) or 'eventSource (not NotEquals)'}; ignored"
                )
                continue
            read, write = read or sel_read, write or sel_write
            for condition in sources:
                excluded.update(condition.values)
            continue
        types = by_field.pop("resources.type", [])
        kinds = [v for c in types if c.operator == "Equals" for v in c.values]
        if len(types) != 1 or len(kinds) != 1:
            notes.append(f"{label}: data selector without one resources.type Equals; ignored")
            continue
        arn_conditions = tuple(by_field.pop("resources.ARN", []))
        name_conditions = tuple(by_field.pop("eventName", []))
        if by_field:
            notes.append(
                f"{label}: data selector filters on {', '.join(sorted(by_field))}; ignored"
            )
            continue
        data.append(DataSelector(kinds[0], sel_read, sel_write, arn_conditions, name_conditions))
    return read, write, excluded, data, notes


def _region_of_trail_arn(arn: Any) -> str | None:
    if isinstance(arn, str) and arn.startswith("arn:"):
        fields = arn.split(":")
        if len(fields) >= 6 and fields[3]:
            return fields[3]
    return None


def parse_event_selectors(
    document: Mapping[str, Any],
    *,
    name: str,
    source: str,
    multi_region: bool | None = None,
    home_region: str | None = None,
) -> TrailSettings:
    """Trail settings from ``aws cloudtrail get-event-selectors`` output (boto3 shape).

    A document with both lists empty (moto's answer for a trail never given selectors) is read as
    the CloudTrail default: all management events, no data events. ``multi_region`` and
    ``home_region`` come from ``describe-trails``; when not given, the document's own
    ``IsMultiRegionTrail`` / ``HomeRegion`` / ``TrailARN`` are used, and a trail of unknown scope
    counts as multi-region (what the console creates). Raises ConfigError naming ``source``."""
    if not isinstance(document, Mapping):
        raise _bad(source, "expected an object with EventSelectors or AdvancedEventSelectors")
    if "EventSelectors" not in document and "AdvancedEventSelectors" not in document:
        raise _bad(source, "neither EventSelectors nor AdvancedEventSelectors")
    classic = _list_of_mappings(document.get("EventSelectors"), "EventSelectors", source)
    advanced = _list_of_mappings(
        document.get("AdvancedEventSelectors"), "AdvancedEventSelectors", source
    )
    if multi_region is None:
        multi_region = _bool(document.get("IsMultiRegionTrail"), "IsMultiRegionTrail", source, True)
    home = (
        home_region or document.get("HomeRegion") or _region_of_trail_arn(document.get("TrailARN"))
    )
    if not classic and not advanced:
        return TrailSettings(
            name,
            True,
            True,
            (),
            (),
            source,
            multi_region,
            home,
            ("no event selectors: the CloudTrail default (all management events) assumed",),
        )
    if advanced:  # CloudTrail keeps one kind; advanced ones overwrite classic ones
        read, write, excluded, data, notes = _parse_advanced(advanced, source)
    else:
        read, write, excluded, data, notes = _parse_classic(classic, source)
    return TrailSettings(
        name=name,
        management_read=read,
        management_write=write,
        excluded_management_sources=tuple(sorted(excluded)),
        data_selectors=tuple(data),
        source=source,
        multi_region=multi_region,
        home_region=home if isinstance(home, str) else None,
        notes=tuple(notes),
    )


_MANAGEMENT_CHOICES = {
    "all": (True, True),
    "read": (True, False),
    "write": (False, True),
    "none": (False, False),
}
_CONFIG_KEYS = {
    "name",
    "management_events",
    "exclude_sources",
    "data_events",
    "multi_region",
    "home_region",
}


def settings_from_config(mapping: Mapping[str, Any]) -> TrailSettings:
    """Trail settings written by hand in the TOML configuration::

        [[trails]]
        name = "org-trail"
        management_events = "all"            # all | read | write | none
        exclude_sources = ["kms.amazonaws.com"]
        data_events = ["AWS::S3::Object", {type = "AWS::Lambda::Function", read_write = "write"}]
        multi_region = true                  # optional; home_region = "eu-west-1" if false

    Every data event type listed covers every resource of that type."""
    where = "configuration trail"
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - _CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}")
    name = mapping.get("name", "configured")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name must be a non-empty string")
    where = f"configuration trail {name!r}"
    choice = mapping.get("management_events", "all")
    if choice not in _MANAGEMENT_CHOICES:
        raise ConfigError(f"{where}: management_events must be one of all, read, write, none")
    read, write = _MANAGEMENT_CHOICES[choice]
    excluded = mapping.get("exclude_sources", [])
    if not isinstance(excluded, list) or not all(isinstance(s, str) for s in excluded):
        raise ConfigError(f"{where}: exclude_sources must be a list of event sources")
    raw_data = mapping.get("data_events", [])
    if not isinstance(raw_data, list):
        raise ConfigError(f"{where}: data_events must be a list")
    data = []
    for item in raw_data:
        kind, rw = (item, "all") if isinstance(item, str) else (None, None)
        if isinstance(item, Mapping):
            kind, rw = item.get("type"), item.get("read_write", "all")
        if (
            not isinstance(kind, str)
            or not kind.startswith("AWS::")
            or rw not in _MANAGEMENT_CHOICES
        ):
            raise ConfigError(
                f'{where}: data_events entries are resource types ("AWS::S3::Object") or '
                f"{{type, read_write = all|read|write}}, not {item!r}"
            )
        sel_read, sel_write = _MANAGEMENT_CHOICES[rw]
        data.append(DataSelector(kind, sel_read, sel_write))
    multi_region = mapping.get("multi_region", True)
    home_region = mapping.get("home_region")
    if not isinstance(multi_region, bool) or not (
        home_region is None or isinstance(home_region, str)
    ):
        raise ConfigError(f"{where}: multi_region must be true/false and home_region a string")
    if not multi_region and not home_region:
        raise ConfigError(f"{where}: a single-region trail needs home_region")
    return TrailSettings(
        name=name,
        management_read=read,
        management_write=write,
        excluded_management_sources=tuple(sorted(set(excluded))),
        data_selectors=tuple(data),
        source="configuration",
        multi_region=multi_region,
        home_region=home_region,
    )


# -- the answer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observability:
    action: str
    observable: bool
    reason: str


# IAM prefixes whose events come from hosts not named after the prefix (DOMAIN.md section 5).
_EVENT_SOURCES = {
    "cloudwatch": ("monitoring.amazonaws.com",),
    "ses": ("email.amazonaws.com",),
    "appstream": ("appstream2.amazonaws.com",),
    "lex": ("models.lex.amazonaws.com", "runtime.lex.amazonaws.com"),
    "mechanicalturk": ("mturk-requester.amazonaws.com",),
    "tag": ("tagging.amazonaws.com",),
    "dynamodb": ("dynamodb.amazonaws.com", "streams.dynamodb.amazonaws.com"),
}


def _event_sources(action: str, given: str | None) -> tuple[str, ...]:
    if given:
        return (given,)
    service = split_action(action)[0].lower()
    return _EVENT_SOURCES.get(service, (f"{service}.amazonaws.com",))


def _region_gap(trail: TrailSettings, region: str | None) -> str | None:
    """Why a single-region trail does not cover the call's region; None when it does."""
    if trail.multi_region:
        return None
    home = trail.home_region or "its home region"
    if region is None:
        return f"trail {trail.name} records only {home}, and the call's region is not given"
    if trail.home_region != region:
        return f"trail {trail.name} records only {home}, not {region}"
    return None


def _management_gap(
    trail: TrailSettings, read_only: bool | None, sources: tuple[str, ...]
) -> str | None:
    if read_only is None and not (trail.management_read and trail.management_write):
        return f"trail {trail.name} records only some management events and readOnly is unknown"
    if read_only and not trail.management_read:
        return f"trail {trail.name} does not record read-only management events"
    if read_only is False and not trail.management_write:
        return f"trail {trail.name} does not record write management events"
    excluded = [s for s in sources if s in trail.excluded_management_sources]
    if excluded:
        return f"trail {trail.name} excludes {', '.join(excluded)} events"
    return None


def _data_gap(
    trail: TrailSettings,
    av: ActionVisibility,
    resource_arns: Sequence[str] | None,
    event_names: Sequence[str],
) -> str | None:
    selectors = [s for s in trail.data_selectors if s.resource_type == av.data_resource_type]
    if not selectors:
        return f"trail {trail.name} does not select {av.data_resource_type} data events"
    gaps = []
    for s in selectors:
        if av.read_only is None and not (s.read and s.write):
            gaps.append("records only some of them and readOnly is unknown")
        elif (av.read_only and not s.read) or (av.read_only is False and not s.write):
            gaps.append("read-only ones only" if s.read else "write ones only")
        elif not all(c.holds(n) for c in s.event_name_conditions for n in event_names):
            gaps.append(f"filters eventName and {', '.join(event_names)} may be left out")
        elif s.arn_conditions and not resource_arns:
            gaps.append("only for some resources, and the call's resources are not given")
        elif s.arn_conditions and not all(
            c.holds_for_pattern(arn) for c in s.arn_conditions for arn in resource_arns or ()
        ):
            gaps.append("only for some resources, not all of these")
        else:
            return None
    return f"trail {trail.name} selects {av.data_resource_type} data events: {'; '.join(gaps)}"


def observability(
    action: str,
    trails: Sequence[TrailSettings],
    *,
    event_source: str | None = None,
    region: str | None = None,
    resource_arns: Sequence[str] | None = None,
    event_names: Sequence[str] | None = None,
) -> Observability:
    """Whether any of ``trails`` would record a call that needed ``action``.

    ``event_source`` defaults to the prefix's host (``kms`` -> ``kms.amazonaws.com``). ``region``
    matters for single-region trails, ``resource_arns`` (``derive_resources``) for data selections
    limited to some resources, ``event_names`` (default: the action's name) for eventName filters.
    A permission that needs no permission, is never logged or is checked inside another call is
    not observable: its absence from CloudTrail says nothing."""
    av = action_visibility(action)
    name = av.action
    if av.visibility is Visibility.NO_PERMISSION:
        return Observability(name, False, f"needs no permission: {av.source}")
    if av.visibility is Visibility.NEVER:
        return Observability(name, False, f"never logged by CloudTrail: {av.source}")
    if av.visibility is Visibility.INSIDE_OTHER_CALL:
        return Observability(
            name, False, f"checked inside another call, never an event of its own: {av.source}"
        )
    if not trails:
        return Observability(name, False, "no trail records events")
    sources = _event_sources(name, event_source)
    names = tuple(event_names) if event_names else (split_action(name)[1],)
    gaps = []
    for trail in trails:
        gap = _region_gap(trail, region)
        if gap is None and av.visibility is Visibility.MANAGEMENT:
            gap = _management_gap(trail, av.read_only, sources)
        elif gap is None:
            gap = _data_gap(trail, av, resource_arns, names)
        if gap is None:
            kind = (
                "a management event"
                if av.visibility is Visibility.MANAGEMENT
                else f"a data event ({av.data_resource_type})"
            )
            return Observability(name, True, f"logged as {kind} by trail {trail.name}")
        gaps.append(gap + (f" ({'; '.join(trail.notes)})" if trail.notes else ""))
    if av.visibility is Visibility.DATA:
        lead = f"{name} is a data event ({av.data_resource_type}) and no trail records it"
    else:
        lead = f"{name} is a management event and no trail records it"
    return Observability(name, False, f"{lead}: {'; '.join(gaps)}")
