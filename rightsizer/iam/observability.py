"""Could CloudTrail have shown this action? "Not seen" means "unused" only when the answer is yes.

Some permissions never reach CloudTrail (``logs:PutLogEvents``), some are checked inside another
call (``iam:PassRole``), some are data events that a trail records only when it selects them
(``s3:GetObject``), and management events can be cut by a trail's read/write choice or by
``ExcludeManagementEventSources`` (KMS). The per-action
table is ``data/observability.csv`` with a citation per row (the CloudTrail data-events table,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html,
and the service guides). An action without a row is a management event: CloudTrail logs management
events of every service it supports (CloudTrail user guide, "Understanding CloudTrail events").

Trail settings come from ``cloudtrail:GetEventSelectors`` (classic ``EventSelectors`` or
``AdvancedEventSelectors``; CloudTrail API reference, ``EventSelector``, ``AdvancedFieldSelector``)
or from the TOML configuration (read by ``trail_settings.py``). ``observability`` answers for a
set of trails: an action is observable when ANY trail would record it.

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
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources

from rightsizer.iam.catalog import AccessLevel, catalog, split_action
from rightsizer.iam.patterns import has_wildcard, matches
from rightsizer.iam.trail_settings import (
    DEFAULT_TRAIL,
    DataSelector,
    FieldCondition,
    TrailSettings,
    parse_event_selectors,
    settings_from_config,
)

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


@cache
def data_event_types() -> frozenset[str]:
    """The resource types a trail's data selectors can name, as far as the table knows them."""
    return frozenset(r.data_resource_type for r in _table() if r.data_resource_type)


# Cached: the table is pinned, and every role's verdicts ask for each action they are granted
# (6,924 calls for 513 actions on the 1M-event account of bench/scale.py; each scans the table).
@lru_cache(maxsize=8192)
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
    return ActionVisibility(key, row.visibility, row.data_resource_type, row.source,
                            read_only)


# -- trail settings: trail_settings.py -------------------------------------------------------------

# -- the answer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observability:
    action: str
    observable: bool
    reason: str


# IAM prefixes whose events come from hosts not named after the prefix.
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
