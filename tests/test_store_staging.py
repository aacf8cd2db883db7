"""The store reads a typed spool where the reader wrote it (store/staging.py) until its
transaction ends, and removes it then, whether the transaction commits or not; a spool folder
whose path holds a quote is read like any other."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from helpers import event

from rightsizer.store.database import FileRef, Store
from rightsizer.store.staging import type_spool


def _typed(folder: Path, name: str, first: int, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / f"{name}.ndjson"
    with open(spool, "wb") as out:
        for n in range(first, first + count):
            record = event(n, when=datetime(2026, 10, 1) + timedelta(seconds=n))
            out.write(b'{"__s":0,' + orjson.dumps(record)[1:] + b"\n")
    return type_spool(spool)


@pytest.mark.parametrize("folder", ["spools", "it's a \"folder\""])
def test_typed_spools_are_read_in_place_and_removed_when_the_transaction_commits(
        tmp_path: Path, folder: str) -> None:
    spools = tmp_path / folder
    first, second = _typed(spools, "a", 0, 30), _typed(spools, "b", 20, 30)  # 10 repeat
    with Store(tmp_path / "s.duckdb") as store, store.transaction("r") as committed:
        store.load_spool(first, [FileRef(0, "a.json", "f", 1)], run_id="r", expected={0: 30})
        store.load_spool(second, [FileRef(0, "b.json", "f", 1)], run_id="r", expected={0: 30})
        assert first.exists() and second.exists()  # read until the transaction ends
    assert committed.events_new == 50
    assert committed.events_duplicate == 10
    assert list(spools.iterdir()) == []
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.count("events") == 50


def test_typed_spools_are_removed_when_the_transaction_fails(tmp_path: Path) -> None:
    typed = _typed(tmp_path / "spools", "a", 0, 30)
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(KeyboardInterrupt), store.transaction("r"):
            store.load_spool(typed, [FileRef(0, "a.json", "f", 1)], run_id="r",
                             expected={0: 30})
            raise KeyboardInterrupt
        assert not typed.exists()
        assert store.count("events") == 0


def test_a_file_read_with_another_count_stages_nothing_of_it(tmp_path: Path) -> None:
    typed = _typed(tmp_path / "spools", "a", 0, 30)
    with Store(tmp_path / "s.duckdb") as store:
        with store.transaction("r") as committed:
            result = store.load_spool(typed, [FileRef(0, "a.json", "f", 1)], run_id="r",
                                      expected={0: 31})
        assert result.missing == (0,)
        assert committed.events_new == 0
        assert store.count("events") == 0
