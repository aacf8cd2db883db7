"""Evidence sufficiency: can the logs read prove anything unused for this role? Pure.

A grant is removed only when recorded evidence shows it unused. Not seeing a call proves nothing
where no logs were read, so a role is judged only when

- the logs cover every place (account and region) it runs in: the regions of the task
  definitions that use it, of ECS assuming it, and of its own calls, over the window; a place
  with no delivery at all in the window is missing evidence, and so is one whose deliveries
  cover less than half of it;
- it was seen at all: ECS assumed it or it made calls. A role that never ran in a window whose
  logs are complete did nothing, but a proposal for it would be a full revocation that the next
  task start pays for: it gets a finding instead (remove the role, or look again later).

Delivery gaps are found from the deliveries themselves: a silent stretch in a place is a gap when
it is improbable at that place's own rhythm (``q(h)``: how often the place was silent at hour of
day ``h`` over the window; a run of silent hours is expected ``n * prod(q(h))`` times in a window
of ``n`` hours if hours were independent; a gap is a run expected less than ``GAP_SURPRISE``
times), and, inside the window, when other places of the account delivered during it (a quiet
weekend everywhere is not a broken feed). A silent stretch
at either end of the window needs no witness: logs that stop before the window does are missing
evidence whatever the other regions did.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rightsizer.analysis.inventory import InventoryRole
from rightsizer.store.records import CoverageRow, EcsAssumption, UsageRow
from rightsizer.text import plural

__all__ = [
    "GAP_SURPRISE",
    "Coverage",
    "Gap",
    "PlaceEvidence",
    "Sufficiency",
    "judge_evidence",
    "role_footprint",
]

# A silent run expected fewer times than this (under independent hourly deliveries) is a gap.
GAP_SURPRISE = 0.01
# A place whose gaps take more than this share of the window cannot prove anything unused.
MAX_GAP_SHARE = 0.5
# Confidence in what the window shows: (days active, task sessions) at least, per level.
CONFIDENCE_LEVELS = (("high", 7, 5), ("medium", 3, 2))

_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of the window in which a place delivered nothing, improbably."""

    start: datetime
    end: datetime
    witnesses: tuple[str, ...]  # other regions of the account that delivered meanwhile

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def describe(self) -> str:
        meanwhile = f" while {', '.join(self.witnesses)} delivered" if self.witnesses else ""
        return f"{_stamp(self.start)} to {_stamp(self.end)} ({self.hours:.0f} h){meanwhile}"

    def as_json(self) -> dict[str, Any]:
        return {"start": _stamp(self.start), "end": _stamp(self.end),
                "hours": round(self.hours, 1), "witnesses": list(self.witnesses)}


class Coverage:
    """What the logs read cover, by account and region, over the window."""

    def __init__(self, rows: Iterable[CoverageRow], start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        self._hours: dict[tuple[str, str], set[datetime]] = defaultdict(set)
        self._days: dict[tuple[str, str], set[date]] = defaultdict(set)
        self._events: dict[tuple[str, str], int] = defaultdict(int)
        self._all_regions: dict[str, set[date]] = defaultdict(set)  # Athena: every region
        self._gaps: dict[tuple[str, str], tuple[Gap, ...]] = {}
        self._in_window: dict[tuple[str, str], set[datetime]] = {}
        for row in rows:
            if row.region == "*":
                self._all_regions[row.account].add(row.day)
                continue
            place = (row.account, row.region)
            self._days[place].add(row.day)
            self._events[place] += row.events
            base = datetime(row.day.year, row.day.month, row.day.day, tzinfo=UTC)
            for hour in row.hours or range(24):
                self._hours[place].add(base + timedelta(hours=hour))

    def places(self) -> list[dict[str, Any]]:
        """Every account and region with deliveries in the window, for the summary."""
        entries = []
        for (account, region), days in sorted(self._days.items()):
            entries.append({"account": account, "region": region, "days": len(days),
                            "first_day": min(days).isoformat(),
                            "last_day": max(days).isoformat(),
                            "hours": len(self._hours[(account, region)]),
                            "events": self._events[(account, region)]})
        for account, days in sorted(self._all_regions.items()):
            entries.append({"account": account, "region": "*", "days": len(days),
                            "first_day": min(days).isoformat(),
                            "last_day": max(days).isoformat(), "hours": None, "events": None})
        return entries

    def accounts(self) -> set[str]:
        return {a for a, _ in self._days} | set(self._all_regions)

    def hours(self, account: str, region: str) -> set[datetime]:
        """The hours of the window in which the place delivered (every hour of a day an Athena
        query read)."""
        cached = self._in_window.get((account, region))
        if cached is not None:
            return cached
        found = {h for h in self._hours.get((account, region), ()) if self._inside(h)}
        for day in self._all_regions.get(account, ()):
            base = datetime(day.year, day.month, day.day, tzinfo=UTC)
            found.update(h for h in (base + timedelta(hours=i) for i in range(24))
                         if self._inside(h))
        self._in_window[(account, region)] = found
        return found

    def events(self, account: str, region: str) -> int:
        return self._events.get((account, region), 0)

    def window_hours(self) -> list[datetime]:
        first = self.start.replace(minute=0, second=0, microsecond=0)
        hours = []
        while first < self.end:
            hours.append(first)
            first += _HOUR
        return hours

    def _inside(self, hour: datetime) -> bool:
        return hour + _HOUR > self.start and hour < self.end

    def gaps(self, account: str, region: str) -> tuple[Gap, ...]:
        """The improbable silent stretches of one place (module docstring)."""
        cached = self._gaps.get((account, region))
        if cached is None:
            cached = self._gaps[(account, region)] = self._find_gaps(account, region)
        return cached

    def _find_gaps(self, account: str, region: str) -> tuple[Gap, ...]:
        window = self.window_hours()
        delivered = self.hours(account, region)
        n, k = len(window), len(delivered)
        if not k or k >= n:
            return ()
        quiet = _quiet_odds(window, delivered)
        others = {r: self.hours(account, r) for a, r in self._days if a == account and r != region}
        gaps = []
        run: list[datetime] = []
        for index, hour in enumerate([*window, None]):
            if hour is not None and hour not in delivered:
                run.append(hour)
                continue
            if run:
                at_edge = run[0] == window[0] or index == n
                expected = n * math.prod(quiet[h.hour] for h in run)
                witnesses = tuple(sorted(r for r, hours in others.items()
                                         if any(h in hours for h in run)))
                if expected < GAP_SURPRISE and (at_edge or witnesses):
                    start = max(run[0], self.start)
                    end = min(run[-1] + _HOUR, self.end)
                    gaps.append(Gap(start, end, witnesses))
                run = []
        return tuple(gaps)


@dataclass(frozen=True, slots=True)
class PlaceEvidence:
    """One place a role runs in, why it is in the role's footprint, and what the logs cover."""

    account: str
    region: str
    why: tuple[str, ...]  # "task definition ...", "ECS assumed it", "its calls"
    hours_delivered: int
    events: int
    gaps: tuple[Gap, ...]
    window_hours: int

    @property
    def read(self) -> bool:
        return self.hours_delivered > 0

    @property
    def gap_hours(self) -> float:
        return sum(g.hours for g in self.gaps)

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "why": list(self.why),
                "hours_delivered": self.hours_delivered, "events": self.events,
                "gaps": [g.as_json() for g in self.gaps]}


@dataclass(frozen=True, slots=True)
class Sufficiency:
    """Whether the evidence can prove a role's grants unused, and if not, what is missing."""

    sufficient: bool
    missing: tuple[str, ...]  # what is missing, in words; empty when sufficient
    not_seen: bool  # the logs are there, but the role never ran in the window
    footprint: tuple[PlaceEvidence, ...]
    active_days: int
    window_days: int
    sessions: int
    # Logs of the role's places failed integrity validation (modified, missing, a bad
    # signature or a broken chain): what they do not show proves nothing.
    integrity_failed: bool = False

    @property
    def confidence(self) -> str:
        for level, days, sessions in CONFIDENCE_LEVELS:
            if self.active_days >= days and self.sessions >= sessions:
                return level
        return "low"

    @property
    def gaps(self) -> tuple[tuple[PlaceEvidence, Gap], ...]:
        return tuple((place, gap) for place in self.footprint for gap in place.gaps)

    def describe_confidence(self) -> str:
        return (f"seen on {self.active_days} of {plural(self.window_days, 'day')}, in "
                f"{plural(self.sessions, 'task session')}: {self.confidence} confidence")

    def as_json(self) -> dict[str, Any]:
        return {"sufficient": self.sufficient, "missing": list(self.missing),
                "not_seen": self.not_seen, "confidence": self.confidence,
                "active_days": self.active_days, "window_days": self.window_days,
                "sessions": self.sessions, "integrity_failed": self.integrity_failed,
                "footprint": [p.as_json() for p in self.footprint]}


def judge_evidence(*, account: str, footprint: Mapping[tuple[str, str], Iterable[str]],
                   coverage: Coverage, active_days: Iterable[date], sessions: int,
                   seen: bool) -> Sufficiency:
    """Whether ``coverage`` can prove unused what a role of ``account`` did not do.

    ``footprint`` maps each (account, region) the role runs in to why (its task definitions,
    ECS assuming it, its calls); ``active_days`` are the days it was assumed or called; ``seen``
    whether it was at all in the window."""
    window_hours = len(coverage.window_hours())
    window_days = max(1, round(window_hours / 24))
    places = []
    for (place_account, region), why in sorted(footprint.items()):
        delivered = coverage.hours(place_account, region)
        places.append(PlaceEvidence(
            account=place_account, region=region, why=tuple(sorted(set(why))),
            hours_delivered=len(delivered), events=coverage.events(place_account, region),
            gaps=coverage.gaps(place_account, region), window_hours=window_hours))
    span = f"{_day(coverage.start)} to {_day(coverage.end - timedelta(microseconds=1))}"
    missing = []
    for place in places:
        if not place.read:
            missing.append(f"no logs of {place.region} (account {place.account}) were read "
                           f"from {span}, where the role runs ({'; '.join(place.why)})")
        elif place.gap_hours > MAX_GAP_SHARE * window_hours:
            missing.append(f"the logs of {place.region} (account {place.account}) cover only "
                           f"{(window_hours - place.gap_hours) / 24:.0f} of the window's "
                           f"{window_days} days (gaps: "
                           + "; ".join(g.describe() for g in place.gaps[:3]) + ")")
    if not places and account not in coverage.accounts():
        missing.append(f"no logs of account {account} were read from {span}")
    not_seen = False
    if not seen and not missing:
        not_seen = True
        missing.append(f"no sign of the role from {span}: ECS never assumed it and it made no "
                       "call, although the logs of its regions were read")
    elif not seen:
        missing.append("no sign of the role in the logs read: ECS never assumed it and it made "
                       "no call")
    days = {d for d in active_days
            if coverage.start.date() <= d <= (coverage.end - timedelta(microseconds=1)).date()}
    return Sufficiency(sufficient=not missing, missing=tuple(missing), not_seen=not_seen,
                       footprint=tuple(places), active_days=len(days),
                       window_days=window_days, sessions=sessions)


def withhold(sufficiency: Sufficiency, reason: str) -> Sufficiency:
    """The role's evidence with one more thing missing: whatever the logs show, ``reason``
    (an input the verdicts depend on could not be read) stops any grant being called unused."""
    return replace(sufficiency, sufficient=False, missing=(*sufficiency.missing, reason))


def _quiet_odds(window: list[datetime], delivered: set[datetime]) -> list[float]:
    """Per hour of the day (UTC), how often the place was silent at that hour over the window:
    traffic follows the clock (nights are quiet), so silence at 03:00 means less than at 15:00.
    Smoothed (half an observation each way), so that no hour is ever certain."""
    seen = [0] * 24
    total = [0] * 24
    for hour in window:
        total[hour.hour] += 1
        seen[hour.hour] += hour in delivered
    return [(total[h] - seen[h] + 0.5) / (total[h] + 1) for h in range(24)]


def role_footprint(role: InventoryRole, usage: Iterable[UsageRow],
                   assumption: EcsAssumption | None) -> dict[tuple[str, str], list[str]]:
    """Where a role runs, and why we think so: the region of each task definition that uses it
    (in the role's account: a task runs in its task definition's account), the regions where ECS
    assumed it in the window, and the accounts and regions of its own calls."""
    account = _arn_field(role.arn, 4)
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    for use in role.uses:
        region = _arn_field(use.task_definition, 3)
        if region:
            places[(_arn_field(use.task_definition, 4) or account, region)].append(
                f"task definition {use.task_definition.rsplit('/', 1)[-1]}")
    for region in assumption.regions if assumption else ():
        if region:
            places[(account, region)].append("ECS assumed it there")
    for row in usage:
        if row.region:
            places[(row.account or account, row.region)].append("its calls")
    return dict(places)


def _arn_field(arn: str, index: int) -> str:
    parts = arn.split(":", 5)
    return parts[index] if len(parts) > index and arn.startswith("arn:") else ""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()
