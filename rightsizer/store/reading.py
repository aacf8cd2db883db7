"""The store's reads for the analysis: what each role did (``usage``, or one role at a time,
``usage_by_role``), the coverage and span of the window, what ECS assumed, the trail and IAM
changes. A mixin of ``Store``, which owns the connection (database.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from rightsizer.aws_names import role_key
from rightsizer.sqlfiles import sql
from rightsizer.store.clock import naive_utc as _naive_utc
from rightsizer.store.connected import Connected
from rightsizer.store.records import (
    AssumeRoleFailure,
    CoverageRow,
    DataEventSeen,
    EcsAssumption,
    EventSpan,
    IamChangeEvent,
    TrailEvent,
    UsageRow,
)

__all__ = ["AnalysisReads"]


_USAGE_BATCH = 10_000


class AnalysisReads(Connected):
    def ecs_assumed_roles(self, since: datetime | None = None,
                          until: datetime | None = None) -> tuple[EcsAssumption, ...]:
        """The roles ECS was seen assuming for tasks in ``[since, until)``, by role ARN."""
        rows = self._con.execute(sql("duckdb/inventory/ecs_assumed_roles"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return tuple(EcsAssumption(role_arn=arn, assumptions=int(n), sessions=int(sessions),
                                   first_seen=first.replace(tzinfo=UTC),
                                   last_seen=last.replace(tzinfo=UTC),
                                   regions=tuple(regions), days=tuple(days))
                     for arn, n, sessions, first, last, regions, days in rows)

    def assume_role_failures(self, since: datetime | None = None,
                             until: datetime | None = None) -> tuple[AssumeRoleFailure, ...]:
        """ECS's failed ``AssumeRole`` calls for tasks in ``[since, until)``."""
        rows = self._con.execute(sql("duckdb/analysis/assume_role_failures"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return tuple(AssumeRoleFailure(arn, region, account, code, int(n),
                                       first.replace(tzinfo=UTC), last.replace(tzinfo=UTC))
                     for arn, region, account, code, n, first, last in rows)

    def window_inputs(self, since: datetime | None = None,
                      until: datetime | None = None) -> tuple[int, int]:
        """(files, ingest runs) the events of ``[since, until)`` came from."""
        row = self._con.execute(sql("duckdb/analysis/window_inputs"),
                                [_naive_utc(since), _naive_utc(until)]).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def iam_changes(self, since: datetime | None = None,
                    until: datetime | None = None) -> tuple[IamChangeEvent, ...]:
        """Successful changes to IAM roles and managed policies in ``[since, until)``."""
        rows = self._con.execute(sql("duckdb/analysis/role_changes"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return tuple(
            IamChangeEvent(time.replace(tzinfo=UTC), name, actor, actor_type, session, ip,
                           agent, _json_object(request), event_id)
            for time, name, actor, actor_type, session, ip, agent, request, event_id in rows)

    def coverage(self, since: datetime | None = None,
                 until: datetime | None = None) -> tuple[CoverageRow, ...]:
        """Per account, region and day of ``[since, until)``: the hours with events, and how
        many; Athena's queried days as region ``*``."""
        rows = self._con.execute(sql("duckdb/analysis/coverage"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return tuple(CoverageRow(account=a, region=r, day=d,
                                 hours=None if h is None else tuple(h), events=int(n))
                     for a, r, d, h, n in rows)

    def usage(self, since: datetime | None = None,
              until: datetime | None = None) -> tuple[UsageRow, ...]:
        """Every role's calls in ``[since, until)``, aggregated in one pass over the events."""
        rows = self._con.execute(sql("duckdb/analysis/usage"),
                                 [_naive_utc(since), _naive_utc(until), None]).fetchall()
        return tuple(map(_usage_row, rows))

    def usage_by_role(self, since: datetime | None = None, until: datetime | None = None, *,
                      keep: Collection[tuple[str, str]] = (), piece_rows: int = _USAGE_BATCH,
                      others: Literal["all", "refused"] = "all"
                      ) -> Iterator[tuple[tuple[str, str], list[UsageRow]]]:
        """The rows of ``usage``, one role at a time: ((account, role name), rows), where
        (account, role name) is ``aws_names.role_key`` of the rows' principal, which
        the spellings of one role's ARN share. Streamed: a role in ``keep`` comes once with all
        its rows; any other role's rows come in pieces of at most ``piece_rows``, one after
        the other (a Lambda function's role can have a row per S3 object it ever touched). So
        memory holds one kept role's calls, whatever the size of the logs.

        With ``others="refused"``, a role not in ``keep`` comes with its refused calls alone
        (error class ``denied``): all an analysis of the kept roles reads of the others, whose
        other calls are then neither fetched nor made into rows (the keys of ``call_sessions``
        are every authorized call)."""
        query = f"SELECT * FROM ({sql('duckdb/analysis/usage').rstrip().rstrip(';')})"
        # role_key_text names one key: a role name holds no "/", so the text after the last
        # one is the name and the text before it the account (role_key.sql).
        wanted = ([f"{account}/{name}" for account, name in keep] if others == "refused"
                  else None)
        cursor = self._con.execute(
            f"{query} ORDER BY role_account(principal), role_name(principal), principal",
            [_naive_utc(since), _naive_utc(until), wanted])
        current: tuple[str, str] | None = None
        rows: list[UsageRow] = []
        done: set[tuple[str, str]] = set()
        principal: str | None = None  # the rows come by principal: its key is worked out once
        key = ("", "")
        while batch := cursor.fetchmany(_USAGE_BATCH):
            for r in batch:
                row = _usage_row(r)
                if row.principal != principal:
                    principal, key = row.principal, role_key(row.principal)
                if key != current:
                    if current is not None:
                        yield current, rows
                        done.add(current)
                    if key in done:  # the order above and this key disagree: never guess
                        raise RuntimeError(f"the usage rows of {row.principal} came apart")
                    current, rows = key, []
                elif len(rows) >= piece_rows and key not in keep:
                    yield current, rows
                    rows = []
                rows.append(row)
        if current is not None:
            yield current, rows

    def call_sessions(self, since: datetime | None = None, until: datetime | None = None
                      ) -> dict[tuple[str, str, str], int]:
        """(principal, eventSource, eventName) -> distinct task sessions that made the call."""
        rows = self._con.execute(sql("duckdb/analysis/call_sessions"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return {(p, source or "", name or ""): int(n) for p, source, name, n in rows}

    def event_span(self, since: datetime | None = None,
                   until: datetime | None = None) -> EventSpan:
        """The first and last event the store holds in ``[since, until)``, and how many."""
        row = self._con.execute(sql("duckdb/analysis/event_span"),
                                [_naive_utc(since), _naive_utc(until)]).fetchone()
        first, last, events = row if row else (None, None, 0)
        return EventSpan(first_event=first.replace(tzinfo=UTC) if first else None,
                         last_event=last.replace(tzinfo=UTC) if last else None,
                         events=int(events or 0))

    def data_events(self, since: datetime | None = None,
                    until: datetime | None = None) -> tuple[DataEventSeen, ...]:
        """The data events the logs hold in ``[since, until)``: by type, scope, read/write."""
        rows = self._con.execute(sql("duckdb/analysis/data_events"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        return tuple(DataEventSeen(resource_type=t, scope=s, read_only=bool(r), events=int(n))
                     for t, s, r, n in rows)

    def trail_events(self, since: datetime | None = None,
                     until: datetime | None = None) -> tuple[TrailEvent, ...]:
        """Successful calls that changed what a trail records, in time order."""
        rows = self._con.execute(sql("duckdb/analysis/trail_events"),
                                 [_naive_utc(since), _naive_utc(until)]).fetchall()
        found = []
        for time, name, trail, request in rows:
            try:
                parsed = orjson.loads(request)
            except orjson.JSONDecodeError:
                parsed = {}
            found.append(TrailEvent(time=time, name=name, trail=trail,
                                    request=parsed if isinstance(parsed, dict) else {}))
        return tuple(found)


def _usage_row(r: tuple[Any, ...]) -> UsageRow:
    # By position, in the order of usage.sql's columns and UsageRow's fields. The times are
    # made anew in UTC: datetime.replace(tzinfo=...) takes twice as long (1.1 against 0.5 µs,
    # timeit), for every row.
    first, last = r[11], r[12]
    return UsageRow(r[0], r[1] or "", r[2] or "", r[3], r[4], r[5], tuple(r[6]), r[7], r[8],
                    r[9], int(r[10]),
                    datetime(first.year, first.month, first.day, first.hour, first.minute,
                             first.second, first.microsecond, UTC),
                    datetime(last.year, last.month, last.day, last.hour, last.minute,
                             last.second, last.microsecond, UTC),
                    r[13])


def _json_object(text: str) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    return value if isinstance(value, dict) else {}
