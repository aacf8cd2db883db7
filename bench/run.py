"""End to end: how long the work after ingest takes next to the ingest itself, and memory.

    .venv/bin/python bench/run.py --events 20000 --services 10   # a quick check
    .venv/bin/python bench/run.py                                 # 2,000,000 events, 100 services

Simulates an account of N ECS services (each with an execution role and a task role: 100
services give about 200 ECS roles) and M CloudTrail events over 35 days, cached under
bench/_data/run-<events>-<services>-<seed>/ (a suffix is added for non-default --days or
--events-per-file), then times, each with time.perf_counter:

1. simulate   (skipped, "cached", when the account is already complete on disk);
2. ingest     rightsizer.pipeline.ingest([cloudtrail], db) into a fresh DuckDB file in a temp
              directory, all cores: events/s;
3. inventory  rightsizer.pipeline.inventory(iam, ecs, db): the ECS roles;
4. analysis   rightsizer.pipeline.run(logs=[], ...): one pass over the store for every role,
              then proposals, proofs (replays) and the output folder (it inventories again
              inside, as the CLI does);

and prints a table of the stages, the ratio (everything after ingest) / ingest (goal < 1.0),
and peak RSS: getrusage RUSAGE_SELF (this process) and RUSAGE_CHILDREN (its largest reaped
descendant: the ingest workers, once their forkserver is stopped), and, polled every 20 ms with
psutil, this process plus its workers at their highest together, during stages 2-4.

Figures vary from run to run (page cache, other load, cores): compare runs on the same machine,
and run twice so the second one reads the cached account (a simulation in this run happens in a
child process, whose peak then also counts in RUSAGE_CHILDREN). A stage that fails is named
with its error, the figures so far are still printed, and the exit status is 2 (1: some
inputs could not be read).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from peak_rss import PeakRss

DATA = Path(__file__).parent / "_data"
MIB = 1024 * 1024


def account_dir(args: argparse.Namespace) -> Path:
    name = f"run-{args.events}-{args.services}-{args.seed}"
    if args.days != 35:
        name += f"-d{args.days}"
    if args.events_per_file is not None:
        name += f"-f{args.events_per_file}"
    return DATA / name


def paths(account: Path) -> dict[str, Path]:
    return {
        "cloudtrail": account / "cloudtrail",
        "iam": account / "iam" / "authorization-details.json",
        "ecs": account / "ecs" / "task-definitions.json",
        "trail": account / "trail" / "event-selectors.json",
    }


def add_account_arguments(parser: argparse.ArgumentParser, *, events: int, services: int,
                          days: int = 35) -> None:
    """The simulated account's options, shared by the benchmarks that cache one like this."""
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--services", type=int, default=services)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--events-per-file", type=int, default=None,
                        help="mean records per delivery file (default: the simulator's "
                             "five-minute files)")


def complete(account: Path) -> bool:
    """The simulation writes into a sibling folder renamed on success; the files are checked
    too, for a folder made some other way."""
    p = paths(account)
    return p["cloudtrail"].is_dir() and all(p[k].is_file() for k in ("iam", "ecs", "trail"))


def _simulate(out: str, events: int, seed: int, services: int, days: int,
              events_per_file: int | None) -> None:
    import rightsizer

    rightsizer.simulate_account(Path(out), events=events, seed=seed, services=services,
                                days=days, events_per_file=events_per_file)


def simulate(account: Path, args: argparse.Namespace) -> None:
    """In a child process, so that this process's peak RSS is the benchmark's alone."""
    partial = account.with_name(account.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(account, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    child = multiprocessing.get_context("spawn").Process(
        target=_simulate, args=(str(partial), args.events, args.seed, args.services, args.days,
                                args.events_per_file))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"simulation failed (exit {child.exitcode})")
    partial.rename(account)


def stop_forkserver() -> None:
    """Reap the ingest's forkserver (and so its workers), so RUSAGE_CHILDREN counts them."""
    try:
        from multiprocessing import forkserver

        forkserver._forkserver._stop()  # private, but only a benchmark relies on it
    except Exception:  # the private API may change: then RUSAGE_CHILDREN misses the workers
        pass


def maxrss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss * 1024 / MIB  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_account_arguments(parser, events=2_000_000, services=100)
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folder (store and output) and print its path")
    args = parser.parse_args()

    import rightsizer.pipeline as pipeline

    account = account_dir(args)
    p = paths(account)
    seconds: dict[str, float] = {}

    began = time.perf_counter()
    if complete(account):
        seconds["simulate"] = 0.0
        print(f"simulate     cached: {account}", flush=True)
    else:
        simulate(account, args)
        seconds["simulate"] = time.perf_counter() - began
        print(f"simulate     {seconds['simulate']:8.2f} s   {account}", flush=True)
    sim_children = maxrss_mib(resource.RUSAGE_CHILDREN)
    files = sum(1 for q in p["cloudtrail"].rglob("*.json.gz") if "/CloudTrail/" in str(q))
    size = sum(q.stat().st_size for q in p["cloudtrail"].rglob("*.json.gz")
               if "/CloudTrail/" in str(q))
    print(f"input        {files:,} delivery files, {size / MIB:,.1f} MiB gzip, "
          f"{os.cpu_count()} cores", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="rightsizer-run-"))
    db = tmp / "bench.duckdb"
    out = tmp / "out"
    failed_stage = ""
    problems = 0
    ingest_tree = 0
    db_size = 0
    try:
        with PeakRss() as rss:
            try:
                failed_stage = "ingest"
                began = time.perf_counter()
                summary = pipeline.ingest([str(p["cloudtrail"])], db)
                seconds["ingest"] = time.perf_counter() - began
                problems += len(summary.bad_inputs)
                print(f"ingest       {seconds['ingest']:8.2f} s   "
                      f"{summary.events_ingested / seconds['ingest']:>10,.0f} events/s "
                      f"({summary.events_ingested:,} events, {summary.events_duplicate:,} "
                      f"duplicates, {summary.files_ingested:,} files)", flush=True)
                ingest_tree = rss.tree

                failed_stage = "inventory"
                began = time.perf_counter()
                inv = pipeline.inventory(p["iam"], p["ecs"], db)
                seconds["inventory"] = time.perf_counter() - began
                print(f"inventory    {seconds['inventory']:8.2f} s   {len(inv.ecs_roles):,} "
                      f"ECS roles of {len(inv.roles):,}", flush=True)

                failed_stage = "analysis"
                began = time.perf_counter()
                result = pipeline.run(logs=[], iam=p["iam"], ecs=p["ecs"], out=out, db=db,
                                      trail_files=[p["trail"]])
                seconds["analysis"] = time.perf_counter() - began
                problems += len(result.problems)
                proposals = sum(1 for r in result.roles if r.proposal is not None)
                replayed = sum(r.replay.calls for r in result.roles if r.replay)
                failed = sum(1 for r in result.roles if r.replay and not r.replay.passed)
                print(f"analysis     {seconds['analysis']:8.2f} s   {len(result.roles):,} "
                      f"roles, {proposals:,} proposals written, {replayed:,} calls replayed, "
                      f"{failed:,} failed proofs ({result.events_in_window:,} events in "
                      "window)", flush=True)
                failed_stage = ""
            except Exception as exc:  # report the stage that failed, then the figures
                seconds[failed_stage] = time.perf_counter() - began
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                print(f"{failed_stage:<12} FAILED after {seconds[failed_stage]:.2f} s: "
                      f"{type(exc).__name__}: {first}", flush=True)
        if db.exists():
            db_size = db.stat().st_size
    finally:
        if args.keep:
            print(f"kept         {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    stop_forkserver()

    print()
    print(f"{'stage':<12} {'seconds':>9}")
    for stage, s in seconds.items():
        note = ("  (cached)" if stage == "simulate" and s == 0.0
                else "  (FAILED)" if stage == failed_stage else "")
        print(f"{stage:<12} {s:9.2f}{note}")
    if failed_stage:
        print(f"{'after/ingest':<12} {'n/a':>9}  (a stage failed)")
    else:
        after = seconds["inventory"] + seconds["analysis"]
        print(f"{'after/ingest':<12} {after / seconds['ingest']:9.2f}  "
              "(inventory + analysis) / ingest; goal < 1.0")
    children = maxrss_mib(resource.RUSAGE_CHILDREN)
    masked = ("  (the simulation's child peak; the workers' is lower: run again, cached)"
              if seconds["simulate"] and children <= sim_children else "")
    print(f"peak RSS     self {maxrss_mib(resource.RUSAGE_SELF):,.0f} MiB, "
          f"largest child {children:,.0f} MiB{masked}")
    print(f"peak RSS     polled: main {rss.main / MIB:,.0f} MiB, main + workers "
          f"{rss.tree / MIB:,.0f} MiB (during ingest {ingest_tree / MIB:,.0f} MiB)")
    print(f"store        {db_size / MIB:,.1f} MiB on disk")
    if problems:
        print(f"problems     {problems} inputs could not be read", file=sys.stderr)
    return 2 if failed_stage else 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
