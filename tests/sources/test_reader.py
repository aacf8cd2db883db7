"""The reader's finish step (the store's typing of a spool, run in the reader process): what it
gives replaces the spool, and a failure to write is the machine's fault, never the logs'."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import duckdb
import orjson
import pytest

from rightsizer.sources import reader
from rightsizer.sources.locate import LogObject
from rightsizer.store import staging


def _chunk(tmp_path: Path, events: int) -> reader.Chunk:
    records = [{"eventVersion": "1.08", "eventID": f"id-{n}", "eventName": "GetObject",
                "eventSource": "s3.amazonaws.com", "eventTime": "2026-10-01T00:00:00Z"}
               for n in range(events)]
    path = tmp_path / "logs.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records})))
    return reader.Chunk(0, (LogObject(str(path), path.stat().st_size, "f"),))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_finish_step_replaces_the_spool_in_the_reader(tmp_path: Path, workers: int) -> None:
    spools = tmp_path / "spools"
    spools.mkdir()
    spooler = reader.ParallelSpooler(spools, workers, finish=staging.type_spool)
    [spooled] = list(spooler.run([_chunk(tmp_path, 3)]))
    assert spooled.spool.suffix == staging.TYPED_SUFFIX
    assert sorted(p.name for p in spools.iterdir()) == [spooled.spool.name]
    rows = duckdb.connect().execute("SELECT s, event_id FROM read_parquet(?) ORDER BY event_id",
                                    [str(spooled.spool)]).fetchall()
    assert rows == [(0, "id-0"), (0, "id-1"), (0, "id-2")]
    assert spooled.events == {0: 3}


def _disk_full(spool: Path) -> Path:
    raise OSError(28, "No space left on device")


def test_a_finish_step_that_cannot_write_is_a_spool_write_error(tmp_path: Path) -> None:
    spooled = reader.spool_chunk(_chunk(tmp_path, 2), tmp_path)
    with pytest.raises(reader.SpoolWriteError) as caught:
        reader.finished(spooled, _disk_full)
    assert str(caught.value) == f"cannot write the spool {spooled.spool}: No space left on device"
    again = pickle.loads(pickle.dumps(caught.value))  # it crosses the worker pool's pipe
    assert str(again) == str(caught.value)
