"""The ledger of delivery folders read whole: a daily run does not list again, file by file, the
date folders it has read completely, unless their list of files has changed."""

from __future__ import annotations

import gzip
import os
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import orjson
from helpers import ACCOUNT, delivery_path, event, minimal_digest, write_delivery

import rightsizer
from rightsizer.sources.locate import Scope

DAY = datetime(2026, 10, 1)


def run(logs: Path, db: Path, **kw: object) -> rightsizer.IngestSummary:
    kw.setdefault("workers", 1)
    return rightsizer.ingest([str(logs)], db, **kw)  # type: ignore[arg-type]


def folders(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT folder, files FROM read_folders").fetchall())


def replace(path: Path, records: list[dict]) -> None:
    """Write a file beside ``path`` and rename it over it, as ``aws s3 sync`` (s3transfer) and
    rsync do."""
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(gzip.compress(orjson.dumps({"Records": records}), mtime=0))
    os.replace(temp, path)


def day_of(logs: Path, day: datetime, names: str, first: int) -> list[Path]:
    return [write_delivery(delivery_path(logs, day, name),
                           [event(first + i, when=day + timedelta(minutes=first + i))])
            for i, name in enumerate(names)]


def test_a_folder_read_whole_is_not_listed_again_file_by_file(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    files = day_of(logs, DAY, "abc", 1)
    first = run(logs, db)
    assert (first.files_ingested, first.events_ingested) == (3, 3)
    assert folders(db) == {str(files[0].parent): 3}

    again = run(logs, db)
    assert (again.files_seen, again.files_already_ingested, again.files_ingested) == (3, 3, 0)
    # CloudTrail never rewrites a delivered file: a file changed in place (its folder's list of
    # names untouched) is not even looked at, which is what makes the daily run cheap.
    files[0].write_bytes(b"\x1f\x8b not gzip")
    third = run(logs, db)
    assert third.ok and (third.files_already_ingested, third.files_ingested) == (3, 0)


def test_a_new_file_in_a_folder_read_whole_is_read(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    day_of(logs, DAY, "ab", 1)
    run(logs, db)
    late = write_delivery(delivery_path(logs, DAY, "late"), [event(9)])
    again = run(logs, db)
    assert (again.files_seen, again.files_already_ingested, again.files_ingested,
            again.events_ingested) == (3, 2, 1, 1)
    assert folders(db) == {str(late.parent): 3}


def test_a_file_replaced_in_a_folder_read_whole_is_read_again(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    files = day_of(logs, DAY, "ab", 1)
    run(logs, db)
    replace(files[0], [event(1), event(5)])
    again = run(logs, db)
    assert (again.files_ingested, again.files_already_ingested, again.events_ingested,
            again.events_duplicate) == (1, 1, 1, 1)


def test_a_removed_file_makes_the_folder_listed_again(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    files = day_of(logs, DAY, "abc", 1)
    run(logs, db)
    files[2].unlink()
    again = run(logs, db)
    assert (again.files_seen, again.files_already_ingested) == (2, 2)
    assert folders(db) == {str(files[0].parent): 2}


def test_a_folder_with_a_bad_file_is_not_recorded_and_the_file_is_named_again(
        tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    good = day_of(logs, DAY, "a", 1)[0]
    broken = delivery_path(logs, DAY, "broken")
    broken.write_bytes(b"\x1f\x8b cut short")
    first = run(logs, db)
    assert [Path(b.path).name for b in first.bad_inputs] == [broken.name]
    assert folders(db) == {}
    again = run(logs, db)
    assert [Path(b.path).name for b in again.bad_inputs] == [broken.name]
    assert again.files_already_ingested == 1 and good.exists()


def test_a_folder_with_a_file_not_read_is_listed_file_by_file(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    files = day_of(logs, DAY, "a", 1)
    (files[0].parent / ".DS_Store").write_bytes(b"")
    run(logs, db)
    assert folders(db) == {}
    files[0].write_bytes(gzip.compress(orjson.dumps({"Records": [event(1), event(2)]})))
    os.utime(files[0], ns=(1, 1))
    assert run(logs, db).events_ingested == 1


def test_a_file_outside_the_delivery_layout_changed_in_place_is_read_again(
        tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    export = logs / "exports" / "events.json"
    export.parent.mkdir(parents=True)
    export.write_bytes(orjson.dumps({"Records": [event(1)]}))
    run(logs, db)
    assert folders(db) == {}
    export.write_bytes(orjson.dumps({"Records": [event(1), event(2)]}))
    assert run(logs, db).events_ingested == 1


def test_a_folder_read_whole_out_of_the_window_is_still_skipped(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    old = day_of(logs, DAY, "ab", 1)
    new = day_of(logs, DAY + timedelta(days=10), "c", 3)
    run(logs, db)
    assert folders(db) == {str(old[0].parent): 2, str(new[0].parent): 1}
    later = DAY + timedelta(days=10)
    scoped = run(logs, db, scope=Scope(since=later.date(), until=later.date()))
    assert (scoped.files_seen, scoped.files_already_ingested) == (2, 1)
    assert any(s.path.rstrip("/").endswith("/01") and "before the window" in s.reason
               for s in scoped.files_skipped)


def test_each_source_counts_a_folder_read_whole_once(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    files = day_of(logs, DAY, "ab", 1)
    run(logs, db)
    twice = rightsizer.ingest([str(logs), str(files[0].parent)], db, workers=1)
    assert (twice.files_seen, twice.files_already_ingested) == (2, 2)


def digest(logs: Path, hour: int) -> Path:
    folder = logs / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "10" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_CloudTrail-Digest_us-east-1_t_us-east-1_20261001T{hour:02d}0000Z.json.gz"
    path = folder / name
    path.write_bytes(minimal_digest(str(path.relative_to(logs))))
    return path


def test_a_digest_folder_read_whole_is_not_listed_again(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "s.duckdb"
    day_of(logs, DAY, "a", 1)
    first_digest = digest(logs, 1)
    digest(logs, 2)
    assert run(logs, db).digest_files_read == 2
    assert folders(db)[str(first_digest.parent)] == 2
    first_digest.write_bytes(b"changed in place")  # never done by CloudTrail: not looked at
    again = run(logs, db)
    assert again.ok and again.digest_files_read == 0
    # A new digest: the folder is listed again, and each file judged by its own fingerprint,
    # the one changed in place too (read, and named: it is no digest now).
    digest(logs, 3)
    third = run(logs, db)
    assert third.digest_files_read == 2
    assert [Path(b.path) for b in third.bad_inputs] == [first_digest]


def test_which_listed_folders_are_read_whole() -> None:
    from datetime import date

    from rightsizer.sources.locate import DeliveryFolder, folders_read_whole

    day = date(2026, 10, 1)
    listed = [DeliveryFolder(f"/l/{name}", "fp", 2, day) for name in "abcd"]
    read = [("/l/a/1", "x"), ("/l/b/1", "x"), ("/l/c/1", "x"), ("/l/c/2", "x")]
    asked: list[list[tuple[str, str]]] = []

    def held(pairs: object) -> set[str]:
        asked.append(list(pairs))  # type: ignore[call-overload]
        return {"/l/a/1", "/l/c/1"}

    whole = folders_read_whole(listed, ["/l/d/broken.json"], read, held)
    # a: its file read and held; b: its file read but not held; c: one of two not held;
    # d: a file failed; none read in this run is asked about twice.
    assert [f.path for f in whole] == ["/l/a"]
    assert asked == [read]
