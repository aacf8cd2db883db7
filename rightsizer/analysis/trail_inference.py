"""What the trails record, when nobody said: inferred from the logs themselves. Pure.

Not seen is unused only where calls of that kind were being recorded. Without selectors (no
``--trail``, no ``[[trails]]``), rightsizer used to assume the console's default (management events
only) and so kept every data-event action, even when the logs it had just read held the role's S3
and DynamoDB data events. The logs are evidence of the selectors:

- a data event of type T on resource R, read or write, shows that the trail records data events
  of T on R in that class: a selector per (T, scope, class) seen, the scope an S3 bucket
  (``arn:aws:s3:::BUCKET/``) or the resource's ARN. Nothing beyond what was seen is assumed: an
  action on another bucket, or on ``*``, stays unobservable and is kept;
- management events are assumed recorded, read and write, as the default trail does (a trail
  that excludes them would deliver none of the AssumeRole events rightsizer also reads);
- successful ``PutEventSelectors`` calls in the logs *are* a trail's selectors (their request
  parameters have the shape ``get-event-selectors`` prints, in lower camel case); the latest per
  trail wins. ``StopLogging``, ``DeleteTrail`` and the others are changes a reviewer must see.

Given selectors that contradict the logs (data events present of a type no given trail selects)
are reported: the selectors given are then not the ones that wrote these logs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rightsizer.errors import ConfigError
from rightsizer.iam.observability import (
    DataSelector,
    FieldCondition,
    TrailSettings,
    data_event_types,
    parse_event_selectors,
)
from rightsizer.store.records import DataEventSeen, TrailEvent

__all__ = ["contradictions", "infer_trail_settings", "settings_from_trail_events"]

INFERRED = "inferred from the logs"

_MEANING = {
    "PutEventSelectors": "changed what the trail records",
    "CreateTrail": "created a trail",
    "UpdateTrail": "changed the trail's configuration",
    "DeleteTrail": "deleted the trail: nothing it recorded after this is in the logs",
    "StopLogging": "stopped the trail's logging: calls after this were not recorded",
    "StartLogging": "started the trail's logging",
}


def infer_trail_settings(seen: Iterable[DataEventSeen], *, management: bool) -> TrailSettings:
    """One trail that records what the logs show was recorded (module docstring)."""
    classes: dict[tuple[str, str], set[bool]] = defaultdict(set)
    events = 0
    for item in _selectable(seen):
        classes[(item.resource_type, item.scope)].add(item.read_only)
        events += item.events
    selectors = []
    for (kind, scope), read_only in sorted(classes.items()):
        condition = FieldCondition("StartsWith" if scope.endswith("/") else "Equals", (scope,))
        selectors.append(DataSelector(kind, read=True in read_only, write=False in read_only,
                                      arn_conditions=(condition,)))
    notes = ["inferred from the logs: data events only where the logs hold some, for the "
             "resources and read/write classes seen"] if selectors else []
    if management:
        notes.append("management events assumed recorded (read and write)")
    return TrailSettings(
        name=INFERRED, management_read=management, management_write=management,
        excluded_management_sources=(), data_selectors=tuple(selectors),
        source=f"{INFERRED} ({events:,} data events)", notes=tuple(notes))


def contradictions(given: Sequence[TrailSettings], seen: Iterable[DataEventSeen]) -> list[str]:
    """Data events in the logs of a type no given trail selects: the given selectors are not the
    ones that wrote these logs."""
    selected = {s.resource_type for trail in given for s in trail.data_selectors}
    counts: dict[str, int] = defaultdict(int)
    for item in _selectable(seen):
        if item.resource_type not in selected:
            counts[item.resource_type] += item.events
    names = ", ".join(t.name for t in given)
    return [f"the logs hold {n:,} data events of {kind}, which the trail settings given "
            f"({names}) do not select: they are not the settings that wrote these logs"
            for kind, n in sorted(counts.items())]


def settings_from_trail_events(events: Sequence[TrailEvent]
                               ) -> tuple[list[TrailSettings], list[dict[str, str]]]:
    """The selectors the latest ``PutEventSelectors`` of each trail set, and every change, in
    time order, with what it means."""
    latest: dict[str, TrailEvent] = {}
    changes = []
    for event in events:
        changes.append({"time": event.time, "event": event.name, "trail": event.trail,
                        "meaning": _MEANING.get(event.name, "changed the trail")})
        if event.name == "PutEventSelectors":
            latest[event.trail] = event
    trails = []
    for trail, event in sorted(latest.items()):
        document = _pascal(event.request)
        try:
            trails.append(parse_event_selectors(
                document, name=trail.rsplit("/", 1)[-1] or "trail",
                source=f"PutEventSelectors event at {event.time}"))
        except ConfigError:
            continue  # a request this version cannot read: no settings from it
    return trails, changes


def _selectable(seen: Iterable[DataEventSeen]) -> list[DataEventSeen]:
    """The resources of data events that a selector names (an S3 data event also lists its
    bucket, ``AWS::S3::Bucket``, which no data selector selects)."""
    kinds = data_event_types()
    return [item for item in seen if item.resource_type in kinds]


def _pascal(value: Any) -> Any:
    """CloudTrail writes request parameters in lower camel case; the selectors parser reads the
    API's Pascal case (``readWriteType`` -> ``ReadWriteType``). Values are kept as they are."""
    if isinstance(value, Mapping):
        return {(k[:1].upper() + k[1:] if isinstance(k, str) else k): _pascal(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value
