"""bench/athena_load.py runs and its figures add up (the figures themselves are not asserted:
benchmarks print, tests never time)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_athena_load_brings_every_row_home(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # the benches import peak_rss from their folder
    spec = importlib.util.spec_from_file_location("bench_athena_load", BENCH / "athena_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    records = module.result_rows(3_000, 5, 6, 3, 1)
    figures = module.main(["--rows", "3000", "--roles", "5", "--resources", "3"])
    # 5 roles x 6 calls x 3 resources x 90 days can hold every row; merged rows are the
    # distinct (role, call, resource, day) of the draw.
    distinct = {(r[1], r[3], r[6], r[8]) for r in records}
    assert figures["result_rows"] == 3_000
    assert figures["usage_rows"] == len(distinct) < 3_000
    printed = capsys.readouterr().out
    assert f"3,000 result rows -> {len(distinct):,} usage rows" in printed
    assert figures["store_mib"] > 0 and f"{figures['store_mib']:6.1f} MiB" in printed
