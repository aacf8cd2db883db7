"""The daily run: one more day of logs on a store that holds the days before it.

    .venv/bin/python bench/incremental.py --events 300000 --days 91 --services 20

Simulates an account over --days days (cached as bench/run.py does), then times, each in a
fresh copy of the store where one is needed:

1. base       ingest of every delivery folder before the last whole day's (the store a
              scheduled job has built up), then an ingest over the same days, which reads
              nothing new (settle: the first write after a bulk load pays a one-off checkpoint);
2. day alone  ingest of the last whole day's delivery folders into an empty store;
3. daily      ingest of the log folder into the base store with the job's 30-day window:
              folders out of it are not walked, the ledger skips every file it holds, and only
              the new day's files are read (what the job does each day);
4. daily run  `rightsizer run` on that store over a 30-day window ending on the last day, as
              the job runs after its ingest.

and prints the ratio daily / day alone (goal <= 1.2): what listing and checking the files
already read, and deduplicating against a large store, add to reading one day.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from run import account_dir, add_account_arguments, complete, paths, simulate

import rightsizer
from rightsizer.sources.locate import Scope, parse_layout


def last_day(cloudtrail: Path) -> date:
    """The last delivery date of the logs' files (their …/CloudTrail/REGION/YYYY/MM/DD/)."""
    return max(layout.delivery_date for path in cloudtrail.rglob("*.json.gz")
               if (layout := parse_layout(str(path))).kind == "CloudTrail"
               and layout.delivery_date is not None)


def timed(label: str, action: Callable[[], object], figures: dict[str, object]) -> float:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    detail = ""
    if isinstance(result, rightsizer.IngestSummary):
        detail = (f"{result.files_ingested:,} files read, {result.files_already_ingested:,} "
                  f"already read, {result.events_ingested:,} new events")
        figures[label] = result
    print(f"{label:<12} {seconds:8.2f} s   {detail}", flush=True)
    return seconds


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_account_arguments(parser, events=300_000, services=20, days=91)
    parser.add_argument("--root", type=Path,
                        help="a simulated account already on disk (e.g. sample_logs): no "
                             "simulation")
    args = parser.parse_args(argv)

    account = args.root or account_dir(args)
    if args.root is None and not complete(account):
        simulate(account, args)
    p = paths(account)
    figures: dict[str, object] = {}
    logs = str(p["cloudtrail"])
    # The new day is the last whole one: the last delivery folder holds the minutes after the
    # simulation's end. A scope reads files delivered up to a day after its last day (late
    # deliveries), so the day's scope reads its folder and the next, and "until the day
    # before yesterday" reads the folders up to yesterday's.
    last = last_day(p["cloudtrail"]) - timedelta(days=1)
    before = Scope(until=last - timedelta(days=2))
    only_last = Scope(since=last, until=last)
    print(f"input        {account.name}: {args.days} days, the new day {last}")

    with tempfile.TemporaryDirectory(prefix="rightsizer-incremental-") as scratch:
        work = Path(scratch)
        base = work / "base.duckdb"
        timed("base", lambda: rightsizer.ingest([logs], base, scope=before), figures)
        alone = timed("day alone", lambda: rightsizer.ingest([logs], work / "alone.duckdb",
                                                             scope=only_last), figures)
        daily_store = work / "daily.duckdb"
        shutil.copy(base, daily_store)
        # As the scheduled job ingests: the window's days (a trailing 30), the files already
        # read skipped by the ledger. A run over the base's own days first, which reads
        # nothing new: the first write after a bulk load pays a one-off checkpoint (about a
        # second here: DuckDB compacts what the load left), which a job that runs every day
        # has paid long ago.
        timed("settle", lambda: rightsizer.ingest([logs], daily_store, scope=before), figures)
        window = Scope(since=last - timedelta(days=29), until=last)
        daily = timed("daily", lambda: rightsizer.ingest([logs], daily_store, scope=window),
                      figures)
        end = datetime(last.year, last.month, last.day)
        timed("daily run", lambda: rightsizer.run(
            logs=[], iam=p["iam"], ecs=p["ecs"], trail_files=[p["trail"]], out=work / "out",
            db=daily_store, since=end - timedelta(days=29), until=end,
            today=datetime.now(UTC).date()), figures)
    figures["ratio"] = daily / alone
    print(f"ratio        {daily / alone:.2f}   (daily / day alone; goal <= 1.2)")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
