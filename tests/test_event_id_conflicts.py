"""Issue 12, case 13: the same eventID with other contents. CloudTrail delivers at least once,
and a repeat is the same record again; an eventID that comes back as another call (a forged
or damaged record) was silently dropped behind whichever file came first. The first read is
still the one kept, but each other one is counted in the ingest summary and recorded in the
store's ``event_id_conflicts``, in one run or across runs. True repeats are never conflicts,
whichever path (fast split or careful parse) read them."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
from helpers import delivery_path, event, write_delivery

import rightsizer

DAY = datetime(2026, 10, 1)


def _rows(db: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_a_repeat_with_other_contents_is_counted_and_kept_visible(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    first = write_delivery(delivery_path(logs, DAY.replace(hour=1), "aaaa"),
                           [event(n) for n in range(5)])
    forged = event(3, eventName="DeleteObject", userIdentity=event(3, role="admin")["userIdentity"])
    second = write_delivery(delivery_path(logs, DAY.replace(hour=2), "bbbb"),
                            [event(2), forged, event(9)])  # a true repeat, a forgery, a new one
    db = tmp_path / "s.duckdb"
    summary = rightsizer.ingest([str(logs)], db, workers=1)
    assert summary.events_ingested == 6
    assert summary.events_duplicate == 2  # the repeat and the forgery are not stored
    assert summary.events_conflicting == 1
    assert summary.as_json()["events_conflicting"] == 1
    kept = _rows(db, "SELECT event_name, source FROM events "
                     "WHERE event_id = '00000000-0000-4000-8000-000000000003'")
    assert kept == [("GetObject", str(first))]  # the first read is the one kept
    conflicts = _rows(db, "SELECT event_id, kept_source, other_source, other_name, "
                          "other_principal FROM event_id_conflicts")
    assert conflicts == [("00000000-0000-4000-8000-000000000003", str(first), str(second),
                          "DeleteObject", "arn:aws:iam::111122223333:role/ecs/admin")]


def test_a_conflict_with_an_event_stored_by_an_earlier_run_is_recorded(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(delivery_path(logs, DAY.replace(hour=1), "aaaa"), [event(1), event(2)])
    db = tmp_path / "s.duckdb"
    assert rightsizer.ingest([str(logs)], db, workers=1).events_conflicting == 0
    write_delivery(delivery_path(logs, DAY.replace(hour=3), "cccc"),
                   [event(1), event(2, awsRegion="eu-west-1")])
    later = rightsizer.ingest([str(logs)], db, workers=1)
    assert (later.events_ingested, later.events_duplicate, later.events_conflicting) == (0, 2, 1)
    assert _rows(db, "SELECT count(*) FROM event_id_conflicts") == [(1,)]


def test_the_conflict_check_compares_with_the_stored_record_of_that_eventid(
        tmp_path: Path) -> None:
    """The stored contents are read by the row the eventID was found at: the one repeat of a
    record stored among others, with other contents, is found and names both files."""
    logs = tmp_path / "logs"
    first = write_delivery(delivery_path(logs, DAY.replace(hour=1), "aaaa"),
                           [event(n) for n in range(1, 6)])
    db = tmp_path / "s.duckdb"
    assert rightsizer.ingest([str(logs)], db, workers=1).events_conflicting == 0
    later = write_delivery(delivery_path(logs, DAY.replace(hour=3), "cccc"),
                           [event(3, awsRegion="eu-west-1")])
    summary = rightsizer.ingest([str(logs)], db, workers=1)
    assert (summary.events_duplicate, summary.events_conflicting) == (1, 1)
    assert _rows(db, "SELECT event_id, kept_source, other_source FROM event_id_conflicts") == [
        ("00000000-0000-4000-8000-000000000003", str(first), str(later))]


def test_true_repeats_read_by_either_path_are_never_conflicts(tmp_path: Path) -> None:
    """The same records, compact in one file (split without parsing) and pretty-printed in
    another (parsed in Python), with secrets redacted in both: equal contents."""
    logs = tmp_path / "logs"
    records = [event(n, requestParameters={"secretId": "s", "secretString": "hunter2",
                                            "nested": {"a": [1, 2.5, None, True]}})
               for n in range(4)]
    write_delivery(delivery_path(logs, DAY.replace(hour=1), "aaaa"), records)
    pretty = delivery_path(logs, DAY.replace(hour=2), "bbbb")
    pretty.write_bytes(gzip.compress(orjson.dumps({"Records": records[::-1]},
                                                  option=orjson.OPT_INDENT_2)))
    summary = rightsizer.ingest([str(logs)], tmp_path / "s.duckdb", workers=1)
    assert (summary.events_ingested, summary.events_duplicate) == (4, 4)
    assert summary.events_conflicting == 0


def test_the_report_says_how_many_repeats_had_other_contents() -> None:
    from rightsizer.report.markdown import render_markdown

    summary = orjson.loads((Path(__file__).parent / "golden/sample/summary.json").read_bytes())
    assert "of them an eventID repeated" not in render_markdown(summary)
    summary["ingest"]["events_conflicting"] = 3
    assert "(8 duplicates, 3 of them an eventID repeated with other contents)" in \
        render_markdown(summary)
