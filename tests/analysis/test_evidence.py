"""Evidence sufficiency on small coverage tables: places not read, gaps, edges, idle roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rightsizer.analysis.evidence import Coverage, judge_evidence
from rightsizer.store.records import CoverageRow

ACCOUNT = "111122223333"
START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
EVERY_HOUR = tuple(range(24))


def rows(region: str, *, days: range = range(30), hours: tuple[int, ...] = EVERY_HOUR,
         skip: set[datetime] = frozenset(), account: str = ACCOUNT) -> list[CoverageRow]:
    found = []
    for offset in days:
        day = (START + timedelta(days=offset)).date()
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        kept = tuple(h for h in hours if base + timedelta(hours=h) not in skip)
        if kept:
            found.append(CoverageRow(account, region, day, kept, 10 * len(kept)))
    return found


def hours_between(first: datetime, last: datetime) -> set[datetime]:
    found, hour = set(), first
    while hour < last:
        found.add(hour)
        hour += timedelta(hours=1)
    return found


def judge(coverage: Coverage, regions: tuple[str, ...] = ("us-east-1",), *, seen: bool = True,
          account: str = ACCOUNT):
    return judge_evidence(account=account,
                          footprint={(account, r): ["task definition app:1"] for r in regions},
                          coverage=coverage, active_days=[START.date()], sessions=1, seen=seen)


def test_a_region_never_read_is_missing_evidence() -> None:
    coverage = Coverage(rows("us-east-1"), START, END)
    result = judge(coverage, ("us-east-1", "eu-west-1"))
    assert not result.sufficient and not result.not_seen
    assert len(result.missing) == 1
    assert "no logs of eu-west-1 (account 111122223333)" in result.missing[0]
    assert "2026-10-01 to 2026-10-30" in result.missing[0]


def test_no_events_at_all_is_missing_evidence_even_without_a_footprint() -> None:
    coverage = Coverage([], START, END)
    assert not judge(coverage, ()).sufficient
    assert "no logs of account" in judge(coverage, ()).missing[0]
    # ... and for a role with places: each is named.
    assert "no logs of us-east-1" in judge(coverage).missing[0]


def test_a_role_that_never_ran_where_logs_were_read_is_not_seen() -> None:
    coverage = Coverage(rows("us-east-1"), START, END)
    result = judge(coverage, seen=False)
    assert not result.sufficient and result.not_seen
    assert "no sign of the role" in result.missing[0]


def test_a_busy_region_silent_for_hours_while_another_delivers_is_a_gap() -> None:
    hole = hours_between(START + timedelta(days=10, hours=9), START + timedelta(days=10, hours=19))
    coverage = Coverage(rows("us-east-1", skip=hole) + rows("eu-west-1"), START, END)
    result = judge(coverage)
    assert result.sufficient  # 10 hours of 30 days: a finding, not a withheld proposal
    ((place, gap),) = result.gaps
    assert place.region == "us-east-1"
    assert gap.start == START + timedelta(days=10, hours=9) and gap.hours == 10
    assert gap.witnesses == ("eu-west-1",)
    assert "while eu-west-1 delivered" in gap.describe()


@pytest.mark.parametrize("why", ["no witness", "quiet region"])
def test_silence_that_is_not_improbable_or_not_witnessed_is_no_gap(why: str) -> None:
    hole = hours_between(START + timedelta(days=10, hours=9), START + timedelta(days=10, hours=19))
    if why == "no witness":  # every region of the account silent at once: a quiet spell
        data = rows("us-east-1", skip=hole) + rows("eu-west-1", skip=hole)
    else:  # a region with events on one hour in ten: ten silent hours are ordinary
        data = rows("us-east-1", hours=(3, 13), skip=hole) + rows("eu-west-1")
    assert Coverage(data, START, END).gaps(ACCOUNT, "us-east-1") == ()


def test_nights_are_quiet_by_rhythm_not_by_gap() -> None:
    """A service busy 08:00-20:00 every day: twelve silent hours every night are no gap."""
    data = rows("us-east-1", hours=tuple(range(8, 20))) + rows("eu-west-1")
    assert Coverage(data, START, END).gaps(ACCOUNT, "us-east-1") == ()


def test_logs_that_stop_before_the_window_ends_are_a_gap_without_a_witness() -> None:
    coverage = Coverage(rows("us-east-1", days=range(24)), START, END)
    (gap,) = coverage.gaps(ACCOUNT, "us-east-1")
    assert gap.end == END and gap.start == START + timedelta(days=24)
    assert gap.witnesses == ()
    assert judge(coverage).sufficient  # 6 of 30 days missing: reported, not fatal


def test_logs_covering_less_than_half_the_window_prove_nothing() -> None:
    coverage = Coverage(rows("us-east-1", days=range(20, 30)), START, END)
    result = judge(coverage)
    assert not result.sufficient
    assert "cover only 10 of the window's 30 days" in result.missing[0]


def test_athena_queries_cover_every_region_of_their_days() -> None:
    athena = [CoverageRow(ACCOUNT, "*", (START + timedelta(days=d)).date(), None, 0)
              for d in range(30)]
    coverage = Coverage(athena, START, END)
    result = judge(coverage, ("us-east-1", "ap-south-1"))
    assert result.sufficient and not result.gaps
    assert coverage.places()[0]["region"] == "*"


@pytest.mark.parametrize(("days", "sessions", "level"), [
    (30, 50, "high"), (7, 5, "high"), (6, 50, "medium"), (30, 4, "medium"), (3, 2, "medium"),
    (2, 50, "low"), (30, 1, "low"),
])
def test_confidence_grows_with_days_and_sessions(days: int, sessions: int, level: str) -> None:
    coverage = Coverage(rows("us-east-1"), START, END)
    result = judge_evidence(account=ACCOUNT, footprint={(ACCOUNT, "us-east-1"): ["its calls"]},
                            coverage=coverage,
                            active_days=[date(2026, 10, 1) + timedelta(days=d)
                                         for d in range(days)],
                            sessions=sessions, seen=True)
    assert result.confidence == level
    noun = "task session" if sessions == 1 else "task sessions"
    assert f"seen on {days} of 30 days, in {sessions} {noun}" in \
        result.describe_confidence()
