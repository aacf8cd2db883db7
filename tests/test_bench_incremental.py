"""bench/incremental.py runs on the sample: the daily ingest on the store of the days before
reads the last day's files and nothing else, as ingesting that day alone does (the figures
themselves are not asserted: benchmarks print, tests never time)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_daily_ingest_reads_only_the_new_day(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_incremental",
                                                  ROOT / "bench" / "incremental.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    figures = module.main(["--root", str(ROOT / "sample_logs")])
    alone, daily, base = figures["day alone"], figures["daily"], figures["base"]
    assert figures["settle"].files_ingested == 0
    assert alone.files_ingested == daily.files_ingested > 0
    assert 0 < daily.files_already_ingested <= base.files_ingested
    assert daily.events_ingested <= alone.events_ingested
    assert "ratio" in capsys.readouterr().out
