"""Issue 12, case 6: special files are never read (a FIFO hung ingest), and spools, which hold
raw events (AssumeRole credentials among them before redaction), live in a private folder
beside the store that every way out of a run removes, SIGTERM included."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from helpers import delivery_path, event, write_delivery

import rightsizer

DAY = datetime(2026, 10, 1)
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "rightsizer"]


def spools(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f".{db.name}.spool-*"))


def test_a_fifo_among_the_logs_is_named_and_never_opened(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(delivery_path(logs, DAY, "good"), [event(1), event(2)])
    os.mkfifo(logs / "pipe.json")
    db = tmp_path / "s.duckdb"
    done = subprocess.run([*CLI, "ingest", str(logs), "--db", str(db), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 4, done.stderr
    summary = json.loads(done.stdout)
    assert summary["bad_inputs"] == [{"path": str(logs / "pipe.json"),
                                      "reason": "not a regular file (a FIFO): not read"}]
    assert summary["events_ingested"] == 2
    # Named as the source itself, it is refused the same way.
    done = subprocess.run([*CLI, "ingest", str(logs / "pipe.json"), "--db", str(db), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 4 and "a FIFO" in done.stdout


def test_spools_are_private_beside_the_store_and_gone_after_the_run(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for n in range(3):
        write_delivery(delivery_path(logs, DAY, f"f{n}"), [event(n)])
    db = tmp_path / "store" / "s.duckdb"
    stale = db.parent / f".{db.name}.spool-killed"
    stale.mkdir(parents=True)
    (stale / "chunk-000000.ndjson").write_text('{"secret": 1}\n')
    (tmp_path / "store" / ".other.duckdb.spool-x").mkdir()  # another store's: not ours
    seen: list[tuple[str, int]] = []

    def progress(files: int, _bytes: int) -> None:
        seen.extend((p.name, stat.S_IMODE(p.stat().st_mode)) for p in spools(db))

    rightsizer.ingest([str(logs)], db, workers=1, chunk_files=1, progress=progress)
    assert seen and {mode for _, mode in seen} == {0o700}
    assert "spool-killed" not in {name for name, _ in seen}  # removed before the run began
    assert spools(db) == []
    assert (tmp_path / "store" / ".other.duckdb.spool-x").is_dir()


def test_sigterm_mid_ingest_removes_the_spools_and_keeps_the_store_consistent(
        tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    # Enough files that the ingest is still running when the signal comes, even on a loaded
    # CI machine where this process may not be scheduled for a second or more.
    for n in range(5000):
        write_delivery(delivery_path(logs, DAY + timedelta(minutes=n), f"f{n}"),
                       [event(n * 2, when=DAY + timedelta(minutes=n)),
                            event(n * 2 + 1, when=DAY + timedelta(minutes=n))])
    db = tmp_path / "s.duckdb"
    child = subprocess.Popen([*CLI, "ingest", str(logs), "--db", str(db), "--workers", "1"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(p.is_dir() and any(p.iterdir()) for p in spools(db)):
        assert child.poll() is None, "ingest ended before a spool was written"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert spools(db) == []
    # What was committed stays; the next run stores the rest, each event once.
    summary = rightsizer.ingest([str(logs)], db, workers=1)
    assert summary.bad_inputs == ()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events"
                           ).fetchone() == (10000, 10000)
