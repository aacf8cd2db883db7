"""Issue 12, case 10: a truncated store, a read-only store folder and a full disk end in a clear
message and exit 2 (a store error), each saying how to recover; after a full disk the store is
consistent and the next run, given room, stores exactly what a fresh one does.

A read-only folder and a full disk are real ones: a read-only bind mount and a small tmpfs, in
a private mount namespace (``unshare -m``) that vanishes with the command, so nothing on the
machine is touched. CI runs as root, whom file modes do not stop: a mount is what does.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LOGS = ROOT / "sample_logs" / "cloudtrail"
CLI = [sys.executable, "-m", "rightsizer"]


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not _can_mount(),
                                  reason="needs a private mount namespace (unshare -m, as root)")


def in_namespace(script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in a private mount namespace: its mounts are gone when it ends."""
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=ROOT)


def cli(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in [*CLI, *args])


def ingest(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "ingest", str(SAMPLE_LOGS), "--db", str(db), *extra],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)


def test_a_truncated_store_is_a_store_error_that_says_how_to_recover(tmp_path: Path) -> None:
    good = tmp_path / "good.duckdb"
    assert ingest(good, "--workers", "1").returncode == 0
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(good.read_bytes()[:20_000])
    for args in (["ingest", str(SAMPLE_LOGS)],
                 ["run", "--logs", str(SAMPLE_LOGS), "--iam",
                  str(ROOT / "sample_logs/iam/authorization-details.json"), "--ecs",
                  str(ROOT / "sample_logs/ecs/task-definitions.json"), "--out",
                  str(tmp_path / "out")]):
        result = subprocess.run([*CLI, *args, "--db", str(damaged)], capture_output=True,
                                text=True, check=False, cwd=ROOT, timeout=300)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{damaged}: cannot open the store" in result.stderr
        assert f"move {damaged} and damaged.duckdb.wal aside and run again" in result.stderr
    assert damaged.stat().st_size == 20_000  # a damaged store is never overwritten


@needs_mounts
def test_a_read_only_store_folder_is_a_store_error_naming_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "s.duckdb"
    result = in_namespace(f"""
        mount --bind {folder} {folder}
        mount -o remount,bind,ro {folder}
        {cli("ingest", str(SAMPLE_LOGS), "--db", str(db))}
    """)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot create the store's lock file {db}.lock: Read-only file system" in result.stderr
    assert "The store's folder must be writable" in result.stderr
    assert list(folder.iterdir()) == []


@needs_mounts
def test_a_full_disk_is_a_store_error_and_the_next_run_stores_everything(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    db = disk / "s.duckdb"
    # 1.2 MB holds the store's first pages but not the spool of the sample's 2,000 events.
    result = in_namespace(f"""
        mount -t tmpfs -o size=1200k tmpfs {disk}
        set +e
        {cli("ingest", str(SAMPLE_LOGS), "--db", str(db), "--workers", "1")} 2> {disk}/err
        echo "exit $?" >> {disk}/err
        cat {disk}/err >&2
        mount -o remount,size=64m {disk}
        rm {disk}/err
        {cli("ingest", str(SAMPLE_LOGS), "--db", str(db), "--json")}
        ls -A {disk}
    """)
    assert result.returncode == 0, result.stderr
    first, _, _ = result.stderr.partition("exit ")
    assert "exit 2" in result.stderr, result.stderr
    assert "Traceback" not in first
    assert f"{db}: cannot write the store:" in first and "No space left on device" in first
    assert "Nothing of the files being read was stored" in first
    # The disk is at fault, not the logs: no file is named a bad input for it.
    assert "bad input" not in first
    second = json.loads(result.stdout[:result.stdout.rindex("}") + 1])
    fresh = json.loads(ingest(tmp_path / "fresh.duckdb", "--json").stdout)
    for key in ("files_ingested", "events_ingested", "events_duplicate"):
        assert second[key] == fresh[key], key
    assert second["bad_inputs"] == []
    left = result.stdout[result.stdout.rindex("}") + 1:].split()
    assert sorted(left) == ["s.duckdb"]  # no spool folder, no lock file left behind


@needs_mounts
def test_duckdb_failing_to_write_is_a_store_error_and_keeps_what_was_committed(
        tmp_path: Path) -> None:
    """The store's own writes (not the spool's) failing for want of space: the transaction
    under way stores nothing, the ones before it stay."""
    disk = tmp_path / "disk"
    disk.mkdir()
    spools = tmp_path / "spools"
    spools.mkdir()
    script = tmp_path / "load.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from pathlib import Path
from datetime import datetime, timedelta
import orjson
from helpers import event
from rightsizer.errors import StoreError
from rightsizer.store.database import FileRef, Store
from rightsizer.store.staging import type_spool

def spool(name, first, count):
    path = {str(spools)!r} + "/" + name
    with open(path, "wb") as out:
        for n in range(first, first + count):
            record = event(n, when=datetime(2026, 10, 1) + timedelta(seconds=n),
                           userAgent="x" * 2000)
            out.write(b'{{"__s":0,' + orjson.dumps(record)[1:] + b"\\n")
    return type_spool(Path(path)), count

def load(store, name, first, count):
    path, n = spool(name, first, count)
    with store.transaction() as committed:
        store.load_spool(path, [FileRef(0, name, "f", 1)], run_id="r", expected={{0: n}})
    return committed.events_new

store = Store({str(disk / "s.duckdb")!r})
store.start_run("r", ["test"])
print("stored", load(store, "small", 0, 50))
try:
    load(store, "large", 1000, 20000)
    print("no error")
except StoreError as exc:
    print("error", exc)
try:
    store.close()
except StoreError:
    pass
store = Store({str(disk / "s.duckdb")!r}, read_only=True)
print("kept", store._con.execute("SELECT count(*) FROM events").fetchone()[0])
""")
    result = in_namespace(f"""
        mount -t tmpfs -o size=3m tmpfs {disk}
        {sys.executable} {script}
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "stored 50"
    assert lines[1].startswith(f"error {disk / 's.duckdb'}: cannot write the store:"), lines
    assert "Nothing of the files being read was stored" in lines[1]
    assert lines[2] == "kept 50"


@needs_mounts
def test_a_typed_spool_that_does_not_fit_is_a_write_fault_and_leaves_nothing(
        tmp_path: Path) -> None:
    """A reader types its spool (store.staging) beside it: when the disk fills there, the fault
    is the machine's (an OSError, which the reader names a spool it cannot write), the spool
    and any part of the typed file are removed, and the logs are not blamed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "type.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from pathlib import Path
from datetime import datetime, timedelta
import orjson
from helpers import event
from rightsizer.store.staging import type_spool
spool = Path({str(disk)!r}) / "chunk.ndjson"
with open(spool, "wb") as out:
    for n in range(3000):
        record = event(n, when=datetime(2026, 10, 1) + timedelta(seconds=n))
        out.write(b'{{"__s":0,' + orjson.dumps(record)[1:] + b"\\\\n")
filler = Path({str(disk)!r}) / "filler"
with open(filler, "wb", buffering=0) as out:
    try:
        while True:
            out.write(b"0" * 4096)
    except OSError:
        pass
try:
    type_spool(spool)
    print("typed")
except OSError as exc:
    print("OSError", exc)
print(sorted(p.name for p in Path({str(disk)!r}).iterdir()))
""")
    result = in_namespace(f"""
        mount -t tmpfs -o size=4m tmpfs {disk}
        {sys.executable} {script}
    """)
    assert result.returncode == 0, result.stderr
    outcome, listing = result.stdout.splitlines()
    assert outcome.startswith("OSError") and "No space left on device" in outcome, outcome
    assert listing == "['filler']"
