"""Ingest speed and memory against the parser floor.

    .venv/bin/python bench/ingest.py --events 200000 --events-per-file 12     # ~17k small files
    .venv/bin/python bench/ingest.py --events 2000000 --events-per-file 20000 # 100 large files

Simulates an account (cached under bench/_data/), then measures
- the floor: one process reading, gunzipping and parsing every delivery file with orjson;
- rightsizer ingest into a fresh DuckDB store, all cores;
and prints events/s, the ratio ingest / floor (goal: <= 1.0) and peak RSS (goal: < 1 GiB),
for the main process and for the main process plus its workers at their highest together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import orjson
from peak_rss import PeakRss

import rightsizer

DATA = Path(__file__).parent / "_data"


def delivery_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if "/CloudTrail/" in str(p))


def floor(files: list[Path]) -> tuple[float, int]:
    """Read + gunzip (zlib, as the standard library does it) + orjson, one process."""
    started = time.perf_counter()
    events = 0
    for path in files:
        with open(path, "rb") as fh:
            events += len(orjson.loads(zlib.decompress(fh.read(), 47))["Records"])
    return time.perf_counter() - started, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--events-per-file", type=int, default=12)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    account = DATA / f"e{args.events}-f{args.events_per_file}-s{args.services}-seed{args.seed}"
    if not (account / "cloudtrail").is_dir():
        shutil.rmtree(account, ignore_errors=True)
        began = time.perf_counter()
        rightsizer.simulate_account(account, events=args.events, seed=args.seed,
                                    services=args.services,
                                    events_per_file=args.events_per_file)
        print(f"simulated in {time.perf_counter() - began:.1f} s: {account}", file=sys.stderr)
    files = delivery_files(account / "cloudtrail")
    size = sum(p.stat().st_size for p in files)

    # Warm the page cache for both measurements alike.
    floor(files)
    floor_s, records = floor(files)

    with tempfile.TemporaryDirectory(prefix="rightsizer-bench-") as tmp:
        db = Path(tmp) / "bench.duckdb"
        with PeakRss() as rss:
            began = time.perf_counter()
            summary = rightsizer.ingest([str(account / "cloudtrail")], db, workers=args.workers)
            ingest_s = time.perf_counter() - began
        db_size = db.stat().st_size

    mib = 1024 * 1024
    print(f"input        {len(files):,} delivery files, {size / mib:,.1f} MiB gzip, "
          f"{records:,} records ({summary.events_ingested:,} distinct)")
    print(f"cores        {os.cpu_count()}")
    print(f"floor        {floor_s:7.2f} s   {records / floor_s:>10,.0f} records/s "
          "(1 process: read + zlib + orjson)")
    print(f"ingest       {ingest_s:7.2f} s   {records / ingest_s:>10,.0f} records/s")
    print(f"ratio        {ingest_s / floor_s:7.2f}     (ingest / floor; goal <= 1.0)")
    print(f"peak RSS     main {rss.main / mib:,.0f} MiB, main + workers {rss.tree / mib:,.0f} MiB "
          "(goal < 1024)")
    print(f"store        {db_size / mib:,.1f} MiB on disk")
    if summary.bad_inputs:
        print(f"bad inputs   {len(summary.bad_inputs)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
