"""A verdict for every action a role is granted or was seen using, with the rule and evidence.

Verdicts (the issue's vocabulary, ``summary.json`` spells them the same):

- ``used``: a call that needed it succeeded (or failed after authorization: not found,
  throttled), with the resources, counts, first and last seen, invokedBy and task sessions.
- ``required_by_task_definition``: kept: a task definition that uses the role declares it
  (``logs:PutLogEvents`` on its awslogs group).
- ``not_observable``: kept: CloudTrail could not have shown it in this window (never logged, a
  data event no trail selects, a source the trail excludes), with the reason. Not seen is not
  unused.
- ``excluded``: kept: the configuration says to keep it (with its reason, until its expiry).
- ``unused``: granted, observable, never used in the window: the proposal removes it.
- ``denied_attempt``: the role tried and was refused: reported, never added.
- ``used_not_granted``: it succeeded although the role's policies do not grant it (a resource
  policy or another path did): reported, never added.
- ``unmapped_event``: an event rightsizer cannot map to an IAM action: reported.
- ``kept_unmapped``: kept: not seen as such, but the role made calls of its service that
  rightsizer cannot map to an action (an operation newer than the catalog, say), and any of the
  service's grants may have served them (unknown events never cost a grant).
- ``insufficient_evidence``: kept: not seen, but the logs read cannot prove it unused (a region
  or days of the role's not read, or no sign of the role at all: ``evidence.py``); the role gets
  no proposal.

Calls a service makes for the role (``invokedBy: secretsmanager.amazonaws.com`` on
``kms:Decrypt``) are the role's own use.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase

import orjson

from rightsizer.analysis.grants import Grants
from rightsizer.iam.actions import event_actions
from rightsizer.iam.observability import Observability, TrailSettings, observability
from rightsizer.iam.resources import Call, DerivedResources, derive_resources
from rightsizer.store.records import UsageRow
from rightsizer.text import plural

__all__ = [
    "KEPT",
    "ActionEvidence",
    "Exclusion",
    "Verdict",
    "decide",
    "gather_evidence",
]

KEPT = frozenset({"used", "required_by_task_definition", "not_observable", "excluded",
                  "insufficient_evidence", "kept_unmapped", "used_per_iam"})


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Keep an action (pattern) for a role (pattern), with a reason, until an optional expiry."""

    action: str = "*"  # IAM action pattern, case-insensitive
    role: str = "*"  # role name or ARN pattern (fnmatch), case-sensitive
    reason: str = ""
    expires: date | None = None

    def applies(self, action: str, role_name: str, role_arn: str, today: date) -> bool:
        if self.expires is not None and today > self.expires:
            return False
        if not fnmatchcase(action.lower(), self.action.lower()):
            return False
        return fnmatchcase(role_name, self.role) or fnmatchcase(role_arn, self.role)


@dataclass(slots=True)
class ActionEvidence:
    """Everything the usage rows say about one action of one role."""

    action: str
    calls: int = 0  # successful or failed after authorization
    denied_calls: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # (arn, region) -> calls, for calls whose resource the record names
    resources: dict[tuple[str, str], int] = field(default_factory=dict)
    unknown_resource_calls: int = 0
    unknown_resource_reasons: set[str] = field(default_factory=set)
    invoked_by: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    event_names: set[str] = field(default_factory=set)
    sessions: int = 0
    denied_codes: set[str] = field(default_factory=set)
    daily: dict[date, int] = field(default_factory=dict)
    # Once trimmed (``trim``): the resources left out of ``resources``, and their calls.
    resources_omitted: int = 0
    resource_calls_omitted: int = 0

    @property
    def resource_count(self) -> int:
        """The distinct resources (ARNs) the calls named, listed or not."""
        return len({arn for arn, _region in self.resources}) + self.resources_omitted

    def trim(self, keep: int) -> None:
        """Keep the ``keep`` most-called resources (all their regions), counting the others:
        once the proposal is built and proven, the rest is only ever shown as a count, and a
        role writing an S3 object per request names tens of thousands."""
        by_arn: dict[str, int] = {}
        for (arn, _region), n in self.resources.items():
            by_arn[arn] = by_arn.get(arn, 0) + n
        if len(by_arn) <= keep:
            return
        # The first ``keep`` of the order most-called then ARN, without sorting the others:
        # 500,000 S3 objects took 2.0 s to sort and 0.08 s this way.
        ranked = heapq.nsmallest(keep, by_arn.items(), key=lambda item: (-item[1], item[0]))
        kept = {arn for arn, _n in ranked}
        self.resources_omitted += len(by_arn) - keep
        self.resource_calls_omitted += sum(by_arn.values()) - sum(n for _arn, n in ranked)
        self.resources = {key: n for key, n in self.resources.items() if key[0] in kept}

    def add(self, row: UsageRow, derived: DerivedResources) -> None:
        self.event_names.add(f"{row.event_source}:{row.event_name}")
        if row.error_class == "denied":
            self.denied_calls += row.calls
            if row.error_code:
                self.denied_codes.add(row.error_code)
            return
        self.calls += row.calls
        if row.first_seen and (self.first_seen is None or row.first_seen < self.first_seen):
            self.first_seen = row.first_seen
        if row.last_seen and (self.last_seen is None or row.last_seen > self.last_seen):
            self.last_seen = row.last_seen
        if derived.known:
            for arn in derived.arns:
                key = (arn, row.region)
                self.resources[key] = self.resources.get(key, 0) + row.calls
        else:
            self.unknown_resource_calls += row.calls
            self.unknown_resource_reasons.add(derived.how)
        if row.invoked_by:
            self.invoked_by.add(row.invoked_by)
        if row.region:
            self.regions.add(row.region)
        self.daily[row.day] = self.daily.get(row.day, 0) + row.calls


@dataclass(frozen=True, slots=True)
class UnmappedEvent:
    event: str  # "eventSource:eventName"
    calls: int
    reason: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """All usage of one role, by action."""

    actions: dict[str, ActionEvidence]
    unmapped: tuple[UnmappedEvent, ...]


def usage_call(row: UsageRow) -> Call:
    """The facts of a usage row that derive its resources (shared with ``attempts``)."""
    params = orjson.loads(row.request_key) if row.request_key else None
    return Call(
        event_source=row.event_source, event_name=row.event_name, region=row.region or None,
        account=row.account or None, request_parameters=params or None,
        resources=tuple([{"ARN": arn} for arn in row.resource_arns]))


def gather_evidence(rows: Iterable[UsageRow],
                    sessions: Mapping[tuple[str, str], int] | None = None) -> Evidence:
    """Fold one role's usage rows into evidence per action. ``sessions`` maps
    (eventSource, eventName) to the distinct task sessions that made the call."""
    actions: dict[str, ActionEvidence] = {}
    unmapped: dict[str, list[int | str]] = {}
    derived_cache: dict[tuple[str, str, str, str, str, tuple[str, ...], str],
                        DerivedResources] = {}
    for row in rows:
        mapping = event_actions(row.event_source, row.event_name)
        if mapping.status == "no_permission":
            continue  # GetCallerIdentity and the like: nothing to grant or remove
        if mapping.status == "unmapped":
            key = f"{row.event_source}:{row.event_name}"
            entry = unmapped.setdefault(key, [0, mapping.rule])
            entry[0] = int(entry[0]) + row.calls
            continue
        for action in mapping.actions:
            cache_key = (action, row.event_source, row.event_name, row.region, row.account,
                         row.resource_arns, row.request_key)
            derived = derived_cache.get(cache_key)
            if derived is None:
                derived = derive_resources(action, usage_call(row))
                derived_cache[cache_key] = derived
            evidence = actions.get(action)
            if evidence is None:
                evidence = actions[action] = ActionEvidence(action)
            evidence.add(row, derived)
    if sessions:
        for evidence in actions.values():
            evidence.sessions = max(
                (sessions.get(tuple(e.split(":", 1)), 0)  # type: ignore[arg-type]
                 for e in evidence.event_names), default=0)
    return Evidence(
        actions=actions,
        unmapped=tuple(UnmappedEvent(k, int(v[0]), str(v[1]))
                       for k, v in sorted(unmapped.items())),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # "service:Action" as IAM spells it, or "eventSource:eventName" when unmapped
    verdict: str
    rule: str  # the rule that decided it, in words
    granted: bool
    evidence: ActionEvidence | None = None
    reason: str = ""  # for kept verdicts: why it is kept

    @property
    def kept(self) -> bool:
        return self.verdict in KEPT


def decide(
    grants: Grants,
    evidence: Evidence,
    *,
    needs: Mapping[str, Sequence[str]],
    trails: Sequence[TrailSettings],
    exclusions: Sequence[Exclusion] = (),
    role_name: str,
    role_arn: str,
    today: date,
    observability_cache: dict[str, Observability] | None = None,
) -> tuple[Verdict, ...]:
    """One verdict per granted or observed action (and per unmapped event), sorted by action.

    ``needs`` maps actions to the reasons task definitions declare them (lower-cased keys)."""
    cache = observability_cache if observability_cache is not None else {}
    verdicts: list[Verdict] = []
    for action in grants.actions:
        seen = evidence.actions.get(action)
        if seen is not None and seen.calls:
            where = ", ".join(sorted(seen.regions)) or "unknown region"
            verdicts.append(Verdict(
                action, "used", f"{plural(seen.calls, 'call')} ({where})", True, seen))
            continue
        declared = needs.get(action.lower())
        if declared:
            verdicts.append(Verdict(action, "required_by_task_definition",
                                    "the task definition declares it", True, seen,
                                    "; ".join(sorted(set(declared)))))
            continue
        # Whether the trails record it wherever it is granted: a selector limited to some
        # resources (an inferred one, say) proves non-use only of a grant within them.
        granted_on = grants.actions[action].resources
        key = f"{action} {' '.join(granted_on)}"
        observed = cache.get(key)
        if observed is None:
            observed = cache[key] = observability(action, trails, resource_arns=granted_on)
        if not observed.observable:
            verdicts.append(Verdict(action, "not_observable", "CloudTrail could not show it",
                                    True, seen, observed.reason))
            continue
        exclusion = next((e for e in exclusions
                          if e.applies(action, role_name, role_arn, today)), None)
        if exclusion is not None:
            until = f" (until {exclusion.expires})" if exclusion.expires else ""
            verdicts.append(Verdict(action, "excluded", "kept by configuration", True, seen,
                                    f"{exclusion.reason or 'configured'}{until}"))
            continue
        if seen is not None and seen.denied_calls:
            verdicts.append(Verdict(
                action, "unused", "granted, but every call was refused (a resource policy, "
                "boundary or condition denied it)", True, seen))
            continue
        verdicts.append(Verdict(action, "unused", "granted, observable, no call in the window",
                                True, seen))
    for action, seen in evidence.actions.items():
        if action in grants.actions:
            continue
        declared = needs.get(action.lower())
        if seen.calls and declared:
            # The task definition needs it and it worked, though not through the role's own
            # policies: the proposal must not be the thing that takes it away.
            verdicts.append(Verdict(
                action, "required_by_task_definition",
                f"the task definition declares it and {plural(seen.calls, 'call')} succeeded, "
                "although "
                "the role's own policies do not grant it", False, seen,
                "; ".join(sorted(set(declared)))))
        elif seen.calls:
            verdicts.append(Verdict(
                action, "used_not_granted",
                "succeeded although the role's policies do not grant it (a resource policy "
                "or another path granted it)", False, seen))
        elif seen.denied_calls:
            codes = ", ".join(sorted(seen.denied_codes)) or "denied"
            verdicts.append(Verdict(action, "denied_attempt",
                                    f"refused {seen.denied_calls} times ({codes})", False, seen))
    for event in evidence.unmapped:
        verdicts.append(Verdict(event.event, "unmapped_event",
                                f"{event.calls} calls: {event.reason}", False, None))
    verdicts = _protect_unmapped(verdicts, evidence.unmapped)
    return tuple(sorted(verdicts, key=lambda v: (v.action.lower(), v.verdict)))


def _protect_unmapped(verdicts: list[Verdict], unmapped: Sequence[UnmappedEvent]
                      ) -> list[Verdict]:
    """Unmapped means protected: an ``unused`` grant of a service whose events rightsizer could
    not map becomes ``kept_unmapped``, naming those events."""
    events_by_service: dict[str, list[str]] = defaultdict(list)
    for event in unmapped:
        source = event.event.split(":", 1)[0]
        for service in unmapped_services(source):
            events_by_service[service].append(f"{event.event} ({event.calls} calls)")
    if not events_by_service:
        return verdicts
    out = []
    for verdict in verdicts:
        service = verdict.action.split(":", 1)[0].lower()
        events = events_by_service.get(service)
        if verdict.verdict == "unused" and events:
            verdict = Verdict(
                verdict.action, "kept_unmapped",
                "the role made calls of its service that map to no known action", True,
                verdict.evidence,
                "kept until these events are understood: " + ", ".join(sorted(events)))
        out.append(verdict)
    return out


def unmapped_services(event_source: str) -> tuple[str, ...]:
    """The IAM services whose grants may have served an unmapped event of ``event_source``:
    its known prefix, or else the catalog services its host's first label names or starts
    with (``appconfigdata`` -> ``appconfig``; ``bedrock-runtime`` -> ``bedrock``)."""
    from rightsizer.iam.actions import service_prefix
    from rightsizer.iam.catalog import catalog

    known = service_prefix(event_source)
    if known:
        return (known,)
    label = event_source.removesuffix(".amazonaws.com").split(".")[0].lower()
    services = catalog().services
    if label in services:
        return (label,)
    return tuple(s for s in services
                 if label.startswith(s) and _plane_suffix(label[len(s):]))


def _plane_suffix(rest: str) -> bool:
    """Whether what follows a service name in a host label names one of its planes
    (``-runtime``, ``-data``, ``data``)."""
    return rest.startswith("-") or rest in ("data", "runtime")


def needs_by_action(needs: Iterable[tuple[Sequence[str], str]]) -> dict[str, list[str]]:
    """(actions, reason) pairs -> lower-cased action -> reasons."""
    found: dict[str, list[str]] = defaultdict(list)
    for actions, reason in needs:
        for action in actions:
            found[action.lower()].append(reason)
    return dict(found)
