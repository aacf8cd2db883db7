"""What a trail records, as rightsizer reads it: ``cloudtrail:GetEventSelectors`` output (classic
``EventSelectors`` or ``AdvancedEventSelectors``; CloudTrail API reference, ``EventSelector``,
``AdvancedFieldSelector``) or hand-written TOML settings, into ``TrailSettings``. Every reading
errs towards recording less (see ``observability.py``): a selector that filters on a field this
module does not model is ignored and noted. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rightsizer.errors import ConfigError

__all__ = [
    "DEFAULT_TRAIL",
    "DataSelector",
    "FieldCondition",
    "TrailSettings",
    "parse_event_selectors",
    "settings_from_config",
]

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
