"""bench/digests.py runs on the sample and reads every digest in it (the figures themselves are
not asserted: benchmarks print, tests never time)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_digests_bench_reads_every_digest_of_the_sample(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_digests", ROOT / "bench" / "digests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    on_disk = len(list((ROOT / "sample_logs" / "cloudtrail").rglob("CloudTrail-Digest/**/*.gz")))
    figures = module.main(["--root", str(ROOT / "sample_logs" / "cloudtrail")])
    assert figures["digests"] == on_disk == 180
    assert f"{on_disk:,} digests read (0 unreadable)" in capsys.readouterr().out
