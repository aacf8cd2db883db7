"""How the whole run grows with the logs: 100k, 1M and 10M events end to end, against the floor.

    .venv/bin/python bench/scale.py                                   # 100k, 1M and 10M events
    .venv/bin/python bench/scale.py --events 100000 1000000           # without the 10M account

For each size, an account of --services ECS services over 35 days is simulated and cached as
bench/run.py does (10M events: 304 s to simulate and 2.4 GB on disk, on this machine),
then:

- floor: one process reading, gunzipping (zlib) and parsing (orjson) every delivery file, as
  bench/ingest.py computes it, after a first pass that warms the page cache;
- run:   `rightsizer run` over the logs, IAM, task definitions and trail into a fresh store, in a
  child process whose process tree's peak RSS is polled every 20 ms; the ingest and the rest
  are told apart by the run's own stage log (``--log-format json``).

It prints a table: events, delivery files, the floor, the run (ingest and after it), the ratio
run / floor (goal: at most 2 at 1M events) and the seconds per million events (flat when the
cost grows linearly), and the peak RSS (goal: under 1 GiB at 10M); above each row, the seconds
and the peak RSS of each stage of the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from ingest import delivery_files, floor
from peak_rss import Measured, peak_by_stage
from run import account_dir, complete, paths, simulate

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def stage_windows(log: bytes) -> list[tuple[str, float, float]]:
    """Each stage as (name, start, end) in epoch seconds, from the run's JSON log lines
    (``rightsizer.stages``: the time a stage ended and its seconds)."""
    windows = []
    for line in log.decode(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "stage" in record and "seconds" in record:
            end = datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()
            windows.append((record["stage"], end - record["seconds"], end))
    return windows


def stage_seconds(log: bytes) -> dict[str, float]:
    """Seconds per stage, from the run's JSON log lines."""
    seconds: dict[str, float] = {}
    for name, start, end in stage_windows(log):
        seconds[name] = seconds.get(name, 0.0) + end - start
    return seconds


def measure(events: int, args: argparse.Namespace) -> dict[str, float]:
    account_args = argparse.Namespace(events=events, services=args.services, seed=args.seed,
                                      days=35, events_per_file=None)
    account = account_dir(account_args)
    if not complete(account):
        print(f"simulating {events:,} events into {account}", flush=True)
        simulate(account, account_args)
    p = paths(account)
    files = delivery_files(p["cloudtrail"])
    floor(files)  # the page cache, warm for both
    floor_s, records = floor(files)
    with tempfile.TemporaryDirectory(prefix="rightsizer-scale-") as scratch:
        work = Path(scratch)
        run = Measured()
        result = run.run([sys.executable, "-m", "rightsizer", "run", "--log-format", "json",
                          "--logs", str(p["cloudtrail"]), "--iam", str(p["iam"]),
                          "--ecs", str(p["ecs"]), "--trail", str(p["trail"]),
                          "--db", str(work / "store.duckdb"), "--out", str(work / "out"),
                          "--output", "json"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        stages = stage_seconds(result.stderr)
        peaks = peak_by_stage(run.samples, stage_windows(result.stderr))
    ingest_s = stages.get("ingest", 0.0)
    print("  seconds by stage: " + ", ".join(f"{name} {seconds:,.1f}"
                                               for name, seconds in stages.items()), flush=True)
    print("  peak RSS by stage: " + ", ".join(f"{name} {rss / MIB:,.0f} MiB"
                                                for name, rss in peaks.items()), flush=True)
    return {"events": records, "files": len(files), "floor": floor_s, "run": run.seconds,
            "ingest": ingest_s, "after": run.seconds - ingest_s, "peak": run.peak / MIB}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+",
                        default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(f"{'events':>11} {'files':>8} {'floor s':>8} {'run s':>8} {'ingest s':>9} "
          f"{'after s':>8} {'run/floor':>9} {'s per 1M':>9} {'peak MiB':>9}", flush=True)
    for events in args.events:
        row = measure(events, args)
        print(f"{row['events']:>11,} {row['files']:>8,} {row['floor']:>8.1f} {row['run']:>8.1f} "
              f"{row['ingest']:>9.1f} {row['after']:>8.1f} {row['run'] / row['floor']:>9.2f} "
              f"{row['run'] / row['events'] * 1e6:>9.1f} {row['peak']:>9,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
