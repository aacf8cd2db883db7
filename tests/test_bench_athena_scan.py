"""Smoke test of bench/athena_scan.py with tiny parameters: the figures it prints and returns
agree with each other and with the billing rules (10 MB minimum, rounded up to the MB)."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "athena_scan.py"
MB = 2**20
TB = 2**40


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_athena_scan", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_athena_scan_figures_are_consistent(tmp_path, capsys):
    bench = load_bench()
    accounts, regions, retention, window, price = 2, 2, 30, 7, 5.0
    argv = ["--events-per-day", "2000", "--accounts", str(accounts), "--regions", str(regions),
            "--retention-days", str(retention), "--window-days", str(window),
            "--price-per-tb", str(price), "--data-dir", str(tmp_path)]
    result = bench.main(argv)
    out = capsys.readouterr().out

    sample = result["sample"]
    assert sample["records"] >= sample["events"] == 2000
    assert sample["files"] > 0 and sample["compressed"] > 0
    assert sample["compression_ratio"] > 1
    assert math.isclose(sample["bytes_per_event"], sample["compressed"] / sample["records"])
    # A partition holds --events-per-day events at the measured weight (object sizes rounded).
    assert abs(result["partition_bytes"] - 2000 * sample["bytes_per_event"]) < 300  # rounding
    assert result["partitions"] == accounts * regions * retention
    assert result["table_bytes"] == result["partitions"] * result["partition_bytes"]
    key, size = result["first_object"]
    assert size > 0
    assert re.fullmatch(r"AWSLogs/o-\w+/\d{12}/CloudTrail/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/"
                        r"\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_\w{16}\.json\.gz", key)

    runs = result["runs"]
    part = result["partition_bytes"]
    full, incremental = runs["a"], runs["b"]
    whole_table, eventtime_only = runs["c"], runs["c_eventtime"]
    # What each predicate selects: the window's days (tomorrow's partition does not exist yet),
    # the last two days, every object of the table, every object of the account.
    assert full["scanned"] == accounts * regions * window * part
    assert incremental["scanned"] == accounts * regions * 2 * part
    assert eventtime_only["scanned"] == result["table_bytes"]
    assert whole_table["scanned"] == accounts * result["table_bytes"]
    # Pruning pays, the incremental run costs less than the full window.
    assert incremental["scanned"] < full["scanned"] < eventtime_only["scanned"]
    assert eventtime_only["scanned"] < whole_table["scanned"]
    assert incremental["usd_per_run"] < full["usd_per_run"] < eventtime_only["usd_per_run"]

    for r in runs.values():
        assert r["queries"] == accounts
        per_query = r["scanned"] // r["queries"]  # every account scans the same here
        expected = max(10 * MB, -(-per_query // MB) * MB)
        assert r["billed"] == r["queries"] * expected >= r["queries"] * 10 * MB
        assert r["billed"] >= r["scanned"]
        assert math.isclose(r["usd_per_run"], r["billed"] * price / TB)
        assert r["usd_per_run"] >= r["queries"] * 10 * MB * price / TB
        assert math.isclose(r["usd_per_month"], 30 * r["usd_per_run"])
    # Tiny runs fall under the minimum: 2 regions x 2 days x ~2 MB < 10 MB per query.
    assert incremental["scanned"] // accounts < 10 * MB
    assert incremental["billed"] == accounts * 10 * MB

    for label in ("(a)", "(b)", "(c)", "(c')", "B/event compressed", "compression ratio"):
        assert label in out
    assert f"{sample['bytes_per_event']:,.1f} B/event" in out
    assert f"{full['usd_per_month']:,.2f}" in out

    # The cached day is reused.
    again = bench.main(argv)
    assert "cached" in capsys.readouterr().out
    assert again["runs"] == runs
