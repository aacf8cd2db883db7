"""Invariants of ingest, checked on generated inputs (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from helpers import event, write_delivery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rightsizer

# A file is a list of event numbers; numbers repeat across files (at-least-once delivery).
files_strategy = st.lists(st.lists(st.integers(0, 40), max_size=8), min_size=1, max_size=8)

COLUMNS = "* EXCLUDE (source)"  # which file an event was first read from may differ


def snapshot(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT {COLUMNS} FROM events ORDER BY event_id").fetchall()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=files_strategy, split=st.integers(0, 8))
def test_a_then_b_stores_what_a_and_b_together_store(files: list[list[int]], split: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, numbers in enumerate(files):
            part = "a" if i < split else "b"
            write_delivery(root / part / f"f{i:02d}.json.gz", [event(n) for n in numbers])
        a, b = root / "a", root / "b"
        sources = [str(p) for p in (a, b) if p.exists()]

        together = rightsizer.ingest(sources, root / "together.duckdb", workers=1)
        stepwise = [rightsizer.ingest([s], root / "steps.duckdb", workers=1) for s in sources]

        assert snapshot(root / "together.duckdb") == snapshot(root / "steps.duckdb")
        distinct = len({n for numbers in files for n in numbers})
        total = sum(len(numbers) for numbers in files)
        assert together.events_ingested == distinct == sum(s.events_ingested for s in stepwise)
        assert together.events_duplicate == total - distinct
        assert sum(s.events_duplicate for s in stepwise) == total - distinct
