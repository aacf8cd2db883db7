"""Issue 12, cases 3, 4, 5 and 8: log files shaped by an attacker (or broken by a disk) end as a
named bad input, in bounded memory, with every well-formed record around them stored.

The memory cases run ingest in a child process under an address-space limit, so that a
regression fails the test instead of taking the machine down, and report its peak RSS."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest
from helpers import delivery_path, event, write_delivery

import rightsizer
from rightsizer.sources import cloudtrail, salvage

DAY = datetime(2026, 10, 1)
ROOT = Path(__file__).resolve().parents[1]


def stored_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT event_id FROM events ORDER BY 1").fetchall()]


def ingest(logs: Path, db: Path) -> rightsizer.IngestSummary:
    return rightsizer.ingest([str(logs)], db, workers=1)


def careful(text: bytes) -> tuple[list[str], cloudtrail.Careful]:
    written: list[bytes] = []
    result = cloudtrail.careful_spool(0, text, written.append)
    ids = [orjson.loads(line)["eventID"] for line in b"".join(written).splitlines()]
    return ids, result


# --- case 8: salvage keeps every well-formed record around a broken one -----------------------

def _file(records: list[bytes], *, indent: bool = False) -> bytes:
    sep = b",\n    " if indent else b","
    return b'{"Records":[' + sep.join(records) + b"]}"


GOOD = [orjson.dumps(event(n)) for n in range(1, 6)]
BROKEN = b'{"eventVersion":"1.08","eventID":"broken","eventName":GetObject}'


@pytest.mark.parametrize("indent", [False, True], ids=["compact", "spaced"])
def test_one_malformed_record_costs_only_itself(indent: bool) -> None:
    ids, result = careful(_file([GOOD[0], GOOD[1], BROKEN, GOOD[3], GOOD[4]], indent=indent))
    assert ids == [event(n)["eventID"] for n in (1, 2, 4, 5)]
    assert result.problem is not None and "1 record unreadable" in result.problem
    assert "record 3" in result.problem


def test_records_that_hold_the_separator_are_joined_back() -> None:
    tricky = [orjson.dumps(event(1, resources=[{"ARN": "a"}, {"ARN": "b"}, {"ARN": "c"}])),
              orjson.dumps(event(2, userAgent="x},{y}, {z")),
              BROKEN,
              orjson.dumps(event(3, requestParameters={"a": [{"b": {"c": 1}}, {"d": 2}]}))]
    ids, result = careful(_file(tricky))
    assert ids == [event(n)["eventID"] for n in (1, 2, 3)]
    assert "1 record unreadable" in (result.problem or "")


def test_a_file_cut_short_keeps_every_record_before_the_cut_and_says_so() -> None:
    text = _file(GOOD)
    ids, result = careful(text[: text.index(GOOD[4]) + 40])
    assert ids == [event(n)["eventID"] for n in (1, 2, 3, 4)]
    assert result.problem == "cut short after 4 records"


def test_an_array_of_events_is_salvaged_like_a_delivery_file() -> None:
    ids, _ = careful(b"[" + b",".join([GOOD[0], BROKEN, GOOD[2]]) + b"]")
    assert ids == [event(n)["eventID"] for n in (1, 3)]


def test_garbage_stops_after_a_bounded_number_of_broken_records() -> None:
    garbage = b'{"Records":[' + b",".join([b"{x}"] * 5_000) + b"," + GOOD[0] + b"]}"
    with pytest.raises(cloudtrail.UnreadableInput, match="not read past 1000 broken records"):
        careful(garbage)


def test_salvage_through_the_store_and_again_on_the_next_run(tmp_path: Path) -> None:
    """The README's promise end to end: the bad file is named, its good records stored, and
    a second run reads it again (it is not in the ledger) without storing anything twice."""
    path = delivery_path(tmp_path / "logs", DAY, "mixed")
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(_file([GOOD[0], GOOD[1], BROKEN, GOOD[3], GOOD[4]])))
    db = tmp_path / "s.duckdb"
    first = ingest(tmp_path / "logs", db)
    assert [b.path for b in first.bad_inputs] == [str(path)]
    assert stored_ids(db) == sorted(event(n)["eventID"] for n in (1, 2, 4, 5))
    again = ingest(tmp_path / "logs", db)
    assert again.events_ingested == 0 and again.events_duplicate == 4
    assert len(again.bad_inputs) == 1


def test_the_fast_path_falls_back_when_the_store_reads_another_count(tmp_path: Path) -> None:
    """A record holding an object that also starts with eventVersion: the split counts two
    where the store reads fewer, and the file is read again carefully, every event kept."""
    nested = event(1, requestParameters={"items": [{"a": 1}, {"eventVersion": "x", "b": 2}]})
    write_delivery(delivery_path(tmp_path / "logs", DAY, "nested"), [nested, event(2)])
    db = tmp_path / "s.duckdb"
    summary = ingest(tmp_path / "logs", db)
    assert summary.bad_inputs == () and summary.files_ingested == 1
    assert stored_ids(db) == [event(1)["eventID"], event(2)["eventID"]]
    with duckdb.connect(str(db), read_only=True) as con:
        params = con.execute("SELECT request_parameters FROM events ORDER BY event_id").fetchone()
    assert json.loads(params[0])["items"][1]["b"] == 2


# --- bounded memory, in a child process under a limit ------------------------------------------

CHILD = """
import json, resource, sys
limit = int(sys.argv[3]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import rightsizer
summary = rightsizer.ingest([sys.argv[1]], sys.argv[2], workers=1)
# The high-water mark of this process's own memory: ru_maxrss would carry over, through exec,
# that of the pytest worker it was spawned from.
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) // 1024
print(json.dumps({"bad": [[b.path, b.reason] for b in summary.bad_inputs],
                  "events": summary.events_ingested, "peak_mib": peak}))
"""


def ingest_in_child(logs: Path, db: Path, limit_mib: int = 3072) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(logs), str(db), str(limit_mib)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_deeply_nested_json_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "deep.json").write_bytes(b'{"Records":' + b"[" * 100_000)
    (logs / "deep-object.json").write_bytes(b'{"Records":[' + b'{"a":' * 50_000)
    write_delivery(delivery_path(logs, DAY, "good"), [event(1), event(2)])
    result = ingest_in_child(logs, tmp_path / "s.duckdb")
    reasons = dict(result["bad"])
    assert set(reasons) == {str(logs / "deep.json"), str(logs / "deep-object.json")}
    assert all("broken JSON" in r for r in reasons.values())
    assert result["events"] == 2
    assert result["peak_mib"] < 400, result


def _zeros_gz(path: Path, mib: int) -> None:
    """A gzip file of ``mib`` MiB of zeros, written in a stream (a bomb of about 0.1% its
    inflated size)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(2**20)
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(squeeze.compress(block))
        out.write(squeeze.flush())


def test_a_gzip_bomb_is_refused_by_name_in_bounded_memory(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(delivery_path(logs, DAY, "good"), [event(1)])
    bomb = delivery_path(logs, DAY, "bomb")
    _zeros_gz(bomb, 400)
    assert bomb.stat().st_size < 2**20
    result = ingest_in_child(logs, tmp_path / "s.duckdb")
    reasons = dict(result["bad"])
    assert list(reasons) == [str(bomb)]
    assert "gzip bomb" in reasons[str(bomb)] and "inflates to more than" in reasons[str(bomb)]
    assert result["events"] == 1
    assert result["peak_mib"] < 400, result


def test_a_large_file_streams_past_the_whole_file_limit_and_keeps_its_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files over the whole-file limit are streamed record by record; with the limit made
    small here, a 200-record file takes that path and every event is stored."""
    from rightsizer.sources import inflate, reader
    monkeypatch.setattr(inflate, "WHOLE_BYTES", 4096)
    monkeypatch.setattr(reader, "STREAM_COMPRESSED_BYTES", 1024)
    records = [event(n) for n in range(200)]
    write_delivery(delivery_path(tmp_path / "logs", DAY, "big"), records)
    db = tmp_path / "s.duckdb"
    summary = ingest(tmp_path / "logs", db)
    assert summary.bad_inputs == ()
    assert stored_ids(db) == sorted(r["eventID"] for r in records)


# --- case 5: one huge record ------------------------------------------------------------------

def test_an_oversized_record_is_bad_input_and_the_rest_is_stored_every_run(
        tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    huge = event(3, userAgent="A" * (salvage.MAX_RECORD_BYTES + 1000))
    path = write_delivery(delivery_path(logs, DAY, "huge"), [event(1), event(2), huge, event(4)])
    write_delivery(delivery_path(logs, DAY, "other"), [event(5)])
    db = tmp_path / "s.duckdb"
    for run in range(2):
        summary = ingest(logs, db)
        reasons = {b.path: b.reason for b in summary.bad_inputs}
        assert list(reasons) == [str(path)]
        assert "1 record over 16 MiB skipped" in reasons[str(path)]
        assert stored_ids(db) == sorted(event(n)["eventID"] for n in (1, 2, 4, 5))
        assert summary.events_ingested == (4 if run == 0 else 0)


def test_an_oversized_record_in_a_streamed_file_is_skipped_in_bounded_memory(
        tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    big = b"B" * (salvage.MAX_RECORD_BYTES * 4)
    text = (b'{"Records":[' + GOOD[0] + b',{"eventVersion":"1.08","userAgent":"' + big
            + b'"},' + GOOD[1] + b"]}")
    (logs / "streamed.json").write_bytes(text)
    result = ingest_in_child(logs, tmp_path / "s.duckdb")
    reasons = dict(result["bad"])
    assert "1 record over 16 MiB skipped" in reasons[str(logs / "streamed.json")]
    assert result["events"] == 2
    assert result["peak_mib"] < 700, result


def test_streamed_records_and_the_salvaged_ones_are_the_same(tmp_path: Path) -> None:
    text = _file([GOOD[0], BROKEN, GOOD[2]])
    tally = salvage.Tally()

    class Trickle:  # reads a few bytes at a time: separators cut across reads
        def __init__(self, data: bytes) -> None:
            self.data, self.at = data, 0

        def read(self, size: int = -1) -> bytes:
            piece = self.data[self.at:self.at + 7]
            self.at += len(piece)
            return piece

    salvage_read = salvage.READ_BYTES
    try:
        salvage.READ_BYTES = 7
        found = [r["eventID"] for r in salvage.records(Trickle(text), tally)]
    finally:
        salvage.READ_BYTES = salvage_read
    assert found == [event(1)["eventID"], event(3)["eventID"]]
    assert tally.broken == 1


def test_the_child_limit_is_real(tmp_path: Path) -> None:
    """The guard itself: a child that allocates past its limit fails, so the tests above
    could fail too."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2**28, 2**28)); "
            "x = bytearray(2**29)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0


# --- case 7: timestamps -----------------------------------------------------------------------

def test_events_dated_before_cloudtrail_in_the_future_or_weeks_off_are_bad_records(
        tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    odd = [event(10, eventTime="0001-01-01T00:00:00Z"),
           event(11, eventTime="9999-12-31T23:59:59Z"),
           event(12, when=DAY - timedelta(days=21))]  # three weeks before its delivery
    path = write_delivery(delivery_path(logs, DAY, "odd"), [event(1), *odd, event(2)])
    # Outside the delivery layout only the absolute bounds apply.
    loose = logs / "export.json"
    loose.write_bytes(orjson.dumps({"Records": [event(3, when=datetime(2020, 5, 1)),
                                                event(13, eventTime="0001-01-01T00:00:00Z")]}))
    db = tmp_path / "s.duckdb"
    summary = ingest(logs, db)
    reasons = {b.path: b.reason for b in summary.bad_inputs}
    assert set(reasons) == {str(path), str(loose)}
    assert "3 of 5 records are dated outside 2026-09-24 00:00 to 2026-10-02 01:00" in \
        reasons[str(path)]
    assert "1 of 2 records are dated outside 2013-11-01 00:00" in reasons[str(loose)]
    assert stored_ids(db) == sorted(event(n)["eventID"] for n in (1, 2, 3))
    with rightsizer.Store(db, read_only=True) as store:
        span = store.event_span()
    assert span.first_event.year == 2020 and span.last_event.date() == DAY.date()
