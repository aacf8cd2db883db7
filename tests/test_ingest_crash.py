"""Crash safety: an ingest killed at any moment leaves a consistent store, and the next run
finishes the job with no event lost and none stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from helpers import event, write_delivery

import rightsizer

FILES, PER_FILE = 600, 10


def make_logs(root: Path) -> set[str]:
    ids = set()
    for f in range(FILES):
        # Every 20th file re-delivers the previous file's events (at-least-once delivery).
        base = (f - 1 if f % 20 == 19 else f) * PER_FILE
        records = [event(base + i) for i in range(PER_FILE)]
        ids.update(r["eventID"] for r in records)
        write_delivery(root / f"{f // 100:02d}" / f"f{f:04d}.json.gz", records)
    return ids


def start_ingest(logs: Path, db: Path) -> subprocess.Popen[bytes]:
    code = ("import sys, rightsizer; "
            "rightsizer.ingest([sys.argv[1]], sys.argv[2], workers=2, chunk_files=15, "
            "commit_events=400)")
    return subprocess.Popen([sys.executable, "-c", code, str(logs), str(db)],
                            start_new_session=True)


def check_consistent(db: Path) -> int:
    """The store opens, no event is stored twice, and every stored event's file is either in
    the ledger (committed together) or absent; returns the events stored."""
    with duckdb.connect(str(db)) as con:
        total, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events"
                                      ).fetchone()
        assert total == distinct
        orphans = con.execute("SELECT count(*) FROM events WHERE source NOT IN "
                              "(SELECT uri FROM ingested_files)").fetchone()[0]
        assert orphans == 0
        # A file is in the ledger only with all of its events.
        per_file = con.execute("""
            SELECT i.uri, i.records FROM ingested_files i""").fetchall()
        assert all(records == PER_FILE for _, records in per_file)
        return int(total)


def test_killed_ingest_resumes_exactly(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    expected = make_logs(logs)

    # How long an uninterrupted run takes here, to aim the kills inside it.
    began = time.perf_counter()
    assert start_ingest(logs, tmp_path / "timing.duckdb").wait(120) == 0
    full = time.perf_counter() - began

    partial_states = 0
    for fraction in (0.35, 0.55, 0.75, 0.9):
        db = tmp_path / f"crash-{fraction}.duckdb"
        proc = start_ingest(logs, db)
        time.sleep(full * fraction)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        stored_before = check_consistent(db) if db.exists() else 0
        partial_states += 0 < stored_before < len(expected)

        summary = rightsizer.ingest([str(logs)], db, workers=2)
        assert summary.bad_inputs == ()
        assert check_consistent(db) == len(expected)
        assert stored_before + summary.events_ingested == len(expected)
        with duckdb.connect(str(db), read_only=True) as con:
            ids = {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()}
            files = con.execute("SELECT count(*) FROM ingested_files").fetchone()[0]
        assert ids == expected
        assert files == FILES
    # At least one kill landed mid-ingest (the others may land before or after any commit).
    assert partial_states >= 1
