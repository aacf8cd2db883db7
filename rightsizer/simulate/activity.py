"""When things happen: an hour-by-hour schedule with a daily rhythm that yields serialized records
in time order, never holding more than about an hour of them.

Each hour gets a share of the event budget. ECS task launches follow each service's own rate
(scaled down when the budget is small, so launches stay a minority of the volume); the rest of
the hour is filled with task-role calls from running tasks and with non-ECS activity.
"""

from __future__ import annotations

import math
import random
from bisect import bisect, bisect_left
from collections.abc import Iterator
from itertools import accumulate
from operator import itemgetter
from typing import Any

import orjson

from rightsizer.simulate.clock import Clock
from rightsizer.simulate.last_accessed import LastAccessed
from rightsizer.simulate.model import DAY, MEMBER_REGIONS, REGIONS, Account
from rightsizer.simulate.records import Factory, Record
from rightsizer.simulate.traffic_ecs import REFRESH_AFTER, EcsTraffic, ServiceState
from rightsizer.simulate.traffic_other import OTHER_KINDS, SCHEDULED_KINDS, OtherTraffic

HOUR = 3600
LAUNCH_SHARE = 0.15  # at most this share of the events are task launches
OTHER_SHARE = 0.24  # share of filler events from principals that are not ECS tasks
SCHEDULED_SHARE = 0.08  # at most this share of the events are people's (SSO, CI, root) calls
SESSION_SHARE = 0.02  # credential renewals stay about this share of the events
LAUNCH_SETTLE = 60  # a launch's calls spread over ~30 s; keep them before the window's end

# Rare records every simulated account should contain at least once: (where, kind, position in
# the window as a fraction). "app" kinds go to a service whose archetype makes that call.
FORCED: tuple[tuple[str, str, float], ...] = (
    ("other", "root_login", 0.31),
    ("other", "root_login", 0.83),
    ("other", "cross_account", 0.22),
    ("other", "cross_account", 0.64),
    ("other", "key_rotation", 0.5),
    ("app", "s3_delete_denied", 0.41),
    ("app", "s3_delete_denied", 0.73),
    ("app", "ec2_denied", 0.45),
    ("app", "ec2_denied", 0.77),
)


def streams(account: Account) -> list[tuple[str, str]]:
    """(account, region) pairs that get their own delivery files, main account first."""
    main = [(account.account_id, r) for r in REGIONS]
    return main + [(account.member_id, r) for r in MEMBER_REGIONS]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def rhythm(rng: random.Random, hour_start: int) -> float:
    """Relative activity of one hour: busiest in US business hours, quieter at weekends."""
    hod = (hour_start // HOUR) % 24
    weekday = (hour_start // DAY + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    base = 0.35 + math.exp(-((hod - 17) ** 2) / 32.0)
    if weekday >= 5:
        base *= 0.55
    return base * rng.uniform(0.85, 1.15)


class _Weighted:
    def __init__(self, items: list[Any], weights: list[float]) -> None:
        self.items = items
        self.cum = list(accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        i = bisect(self.cum, rng.random() * self.cum[-1])
        return self.items[min(i, len(self.items) - 1)]


class Engine:
    def __init__(
        self, account: Account, rng: random.Random, start: int, end: int, total: int
    ) -> None:
        self.account = account
        self.rng = rng
        self.start = start
        self.end = end
        self.total = total
        self.factory = Factory(rng, Clock())
        self.ecs = EcsTraffic(account, self.factory, rng)
        self.other = OtherTraffic(account, self.factory, rng)
        self.stream_of = {pair: i for i, pair in enumerate(streams(account))}
        self.emitted = 0
        self.last_used: dict[str, tuple[int, str]] = {}
        self.last_accessed = LastAccessed()
        self._seq = 0
        self._buffer: list[tuple[int, int, int, bytes]] = []
        states = self.ecs.states
        self._app_pick = _Weighted(states, [s.service.app_weight for s in states])
        self._launch_pick = _Weighted(states, [s.service.launches_per_day for s in states])
        self._other_pick = _Weighted([k for k, _ in OTHER_KINDS], [w for _, w in OTHER_KINDS])
        self._scheduled_pick = _Weighted(
            [k for k, _ in SCHEDULED_KINDS], [w for _, w in SCHEDULED_KINDS]
        )
        days = (end - start) / DAY
        launch_events = sum(s.service.launches_per_day * days * len(s.plan) for s in states)
        scale = min(1.0, LAUNCH_SHARE * total / launch_events) if launch_events else 0.0
        self._launches_per_hour = sum(s.service.launches_per_day for s in states) * scale / 24
        per_day = sum(w for _, w in SCHEDULED_KINDS)
        scale = min(1.0, SCHEDULED_SHARE * total / (per_day * days))
        self._scheduled_per_hour = per_day * scale / 24
        self._stretch_sessions(days)
        for state in states:
            self._seed_tasks(state)

    def _stretch_sessions(self, days: float) -> None:
        """Keep credential renewals a small share of a small budget.

        Real sessions renew every few hours whatever the traffic; in a quiet simulated account
        that would make AssumeRole a large part of all records. Renewals stay time-based, just
        rarer, and the credentials' expiration is stretched to match.
        """
        window = (self.end - self.start) or 1
        tasks = sum(max(1, (s.service.max_tasks + 1) // 2) for s in self.ecs.states)
        self.ecs.refresh_after = max(
            REFRESH_AFTER, int(tasks * window / max(1.0, SESSION_SHARE * self.total))
        )
        # Two rotating non-ECS sessions (the Lambda function and the EC2 instance).
        self.other.min_period = int(2 * window / max(1.0, SESSION_SHARE / 2 * self.total))

    def _seed_tasks(self, state: ServiceState) -> None:
        """Tasks already running when the window opens; their launches are not in the window."""
        for _ in range(max(1, (state.service.max_tasks + 1) // 2)):
            started = self.start - self.rng.randrange(600, 10 * DAY)
            issued = max(started, self.start - self.rng.randrange(REFRESH_AFTER))
            state.tasks.append(self.ecs.start_task(state, started, issued))

    # -- output

    def emit(self, sec: int, account: str, region: str, rec: Record) -> None:
        if self.emitted >= self.total:
            return  # the budget is exact: a launch cut short at the very end is fine
        ident = rec["userIdentity"]
        if ident.get("type") == "AssumedRole":
            arn = ident["sessionContext"]["sessionIssuer"]["arn"]
            last = self.last_used.get(arn)
            if last is None or sec >= last[0]:
                self.last_used[arn] = (sec, region)
            # IAM's last-accessed data counts every attempt, refused ones too.
            self.last_accessed.record(arn, sec, region, rec["eventSource"], rec["eventName"])
        self._buffer.append(
            (sec, self._seq, self.stream_of[(account, region)], orjson.dumps(rec))
        )
        self._seq += 1
        self.emitted += 1

    def _flush(self, until: int | None) -> Iterator[tuple[int, int, bytes]]:
        self._buffer.sort(key=itemgetter(0, 1))
        cut = len(self._buffer) if until is None else bisect_left(
            self._buffer, until, key=itemgetter(0)
        )
        ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        for sec, _, stream, data in ready:
            yield sec, stream, data

    # -- schedule

    def run(self) -> Iterator[tuple[int, int, bytes]]:
        """(epoch second, stream index, JSON bytes) of every record, in time order."""
        hours = (self.end - self.start) // HOUR
        weights = [rhythm(self.rng, self.start + h * HOUR) for h in range(hours)]
        mean = sum(weights) / hours
        cum = list(accumulate(weights))
        targets = [round(self.total * c / cum[-1]) for c in cum]
        forced: dict[int, list[tuple[str, str]]] = {}
        for where, kind, position in FORCED:
            forced.setdefault(min(hours - 1, int(position * hours)), []).append((where, kind))
        for h in range(hours):
            t0 = self.start + h * HOUR
            self._hour(t0, targets[h], weights[h] / mean, forced.get(h, []))
            if h == hours - 1:
                # Top up if launches fell short of their expected length.
                while self.emitted < self.total:
                    self._fill(t0 + self.rng.randrange(HOUR))
            yield from self._flush(t0 + HOUR)
        yield from self._flush(None)

    def _hour(self, t0: int, target: int, factor: float, forced: list[tuple[str, str]]) -> None:
        rng = self.rng
        slots: list[tuple[int, int, Any]] = []
        expected = 0
        if self.ecs.states:
            for _ in range(poisson(rng, self._launches_per_hour * factor)):
                state = self._launch_pick.pick(rng)
                t = min(t0 + rng.randrange(HOUR), self.end - LAUNCH_SETTLE)
                slots.append((t, 0, state))
                expected += len(state.plan)
        scheduled = [
            ("other", self._scheduled_pick.pick(rng))
            for _ in range(poisson(rng, self._scheduled_per_hour * factor))
        ]
        for item in forced + scheduled:
            slots.append((t0 + rng.randrange(HOUR), 2, item))
        n_fill = max(0, target - self.emitted - expected - len(forced) - len(scheduled))
        # int(random() * n) rather than randrange: this line runs once per event.
        rand = rng.random
        slots.extend((t0 + int(rand() * HOUR), 1, None) for _ in range(n_fill))
        slots.sort(key=itemgetter(0))  # stable: equal seconds keep their order
        for t, kind, payload in slots:
            if kind == 0:
                self._launch(payload, t)
            elif kind == 1:
                self._fill(t)
            else:
                self._forced(t, *payload)

    def _launch(self, state: ServiceState, t: int) -> None:
        task, records = self.ecs.launch(state, t)
        state.tasks.append(task)
        if len(state.tasks) > state.service.max_tasks:
            state.tasks.pop(0)  # the oldest task was replaced (rolling deploy or scale-in)
        region = state.service.region
        for sec, rec in records:
            self.emit(sec, self.account.account_id, region, rec)

    def _fill(self, t: int) -> None:
        if not self.ecs.states or self.rng.random() < OTHER_SHARE:
            for account, region, rec in self.other.kinds[self._other_pick.pick(self.rng)](t):
                self.emit(t, account, region, rec)
            return
        state = self._app_pick.pick(self.rng)
        _, records = self.ecs.app_call(state, t)
        for sec, rec in records:
            self.emit(sec, self.account.account_id, state.service.region, rec)

    def _forced(self, t: int, where: str, kind: str) -> None:
        if where == "other":
            for account, region, rec in self.other.kinds[kind](t):
                self.emit(t, account, region, rec)
            return
        candidates = [s for s in self.ecs.states if kind in s.app_kinds]
        if not candidates:
            self._fill(t)
            return
        state = candidates[0]
        task = self.rng.choice(state.tasks)
        sec = max(t, task.started + 20)
        self.emit(sec, self.account.account_id, state.service.region,
                  self.ecs.call(task, kind, sec))  # fmt: skip
