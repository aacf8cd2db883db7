"""Athena bytes scanned and cost of the usage query: partition pruning, incremental runs.

    .venv/bin/python bench/athena_scan.py             # 50 accounts x 4 regions, 200k events/day
    .venv/bin/python bench/athena_scan.py --accounts 200 --events-per-day 1000000

Athena bills bytes scanned, and gzip JSON has no column pruning: a query reads every object of
every partition it touches. So the figure that matters is the compressed size of an event, and
it is measured, not assumed:

1. simulate ONE real day of CloudTrail with rightsizer.simulate_account(days=1) (cached under
   bench/_data/athena-scan-e<events>-s<services>-seed<seed>/, or --data-dir): gzip JSON
   {"Records": [...]} delivery files, ~5-minute files per account and region;
2. measure, over the files under CloudTrail/ (not CloudTrail-Digest/): compressed bytes per record
   (records as delivered, redeliveries included), the compression ratio, and the busiest
   stream's files per day and their sizes;
3. lay out a virtual bucket AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ for accounts x
   regions x retention days, each partition holding --events-per-day events as that stream's
   files scaled to the measured bytes per record (nothing is written: sizes only);
4. select objects with the usage query's own predicate (queries/athena/usage.sql:
   account = ? AND "timestamp" BETWEEN first AND last, with (first, last) from
   rightsizer.sources.athena.partition_range(since, until)), one query per account.

Runs, all with until = tomorrow 00:00 (exclusive; today's partition counted as a full day, an
upper bound; tomorrow's partition does not exist yet, the projection ends at NOW):
  (a)  full window of --window-days, pruned;
  (b)  incremental daily run: window = yesterday and today (the settled-day logic re-queries only
       the days after the settled day), pruned;
  (c)  full window on a table without projection: every query reads the whole table;
  (c') full window filtering only on eventtime (account still injected): every query reads its
       account's whole retention.
Billing: --price-per-tb USD per TB with TB = 2**40 bytes, each query rounded up to the MB
(2**20 bytes) with a 10 MB minimum; a month is 30 daily runs.
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import orjson

import rightsizer
from rightsizer.simulate import DEFAULT_END
from rightsizer.sources.athena import billed_cost, partition_range

DATA = Path(__file__).parent / "_data"
MIB = 2**20
MB = 2**20  # Athena rounds up to the megabyte; taken as 2**20 bytes, like TB = 2**40
TB = 2**40
MIN_BILLED = 10 * MB
RUNS_PER_MONTH = 30
ORG = "o-bench00000"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1",
           "ap-northeast-1", "us-east-2", "eu-west-2", "ap-south-1", "ca-central-1",
           "sa-east-1", "eu-north-1", "ap-southeast-1", "us-west-1", "eu-west-3",
           "ap-northeast-2")
RECOMPRESS_SAMPLE = 24  # files of the busiest stream recompressed at zlib level 6 (2 hours)


# -- 1. one simulated day --------------------------------------------------------------------


def sample_dir(data_dir: Path, events: int, services: int, seed: int) -> Path:
    return data_dir / f"athena-scan-e{events}-s{services}-seed{seed}"


def simulate_day(account: Path, events: int, services: int, seed: int) -> float:
    """Simulate one day into `account` unless it is already there; seconds spent (0: cached)."""
    if (account / "cloudtrail").is_dir():
        return 0.0
    partial = account.with_name(account.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    rightsizer.simulate_account(partial, events=events, seed=seed, services=services, days=1)
    partial.rename(account)
    return time.perf_counter() - began


# -- 2. what a delivered event weighs ----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    events: int  # distinct events simulated
    records: int  # records in delivery files (redeliveries included): what Athena reads
    files: int  # delivery files under CloudTrail/
    compressed: int  # their bytes
    uncompressed: int  # their JSON bytes
    files_per_day: int  # the busiest (account, region) stream's files
    file_sizes: tuple[int, ...]  # that stream's file sizes, in delivery order
    recompressed_ratio: float  # zlib level 6 size / file size, on a sample of that stream

    @property
    def bytes_per_record(self) -> float:
        return self.compressed / self.records

    @property
    def ratio(self) -> float:
        return self.uncompressed / self.compressed


def delivery_files(cloudtrail: Path) -> list[Path]:
    return sorted(p for p in cloudtrail.rglob("*.json.gz") if "/CloudTrail/" in p.as_posix())


def measure(account: Path, events: int) -> Sample:
    cached = account / "sample.json"
    if cached.is_file():
        fields = orjson.loads(cached.read_bytes())
        return Sample(**{**fields, "file_sizes": tuple(fields["file_sizes"])})
    cloudtrail = account / "cloudtrail"
    files = delivery_files(cloudtrail)
    records = compressed = uncompressed = 0
    streams: dict[tuple[str, str], list[Path]] = {}
    for path in files:
        raw = path.read_bytes()
        body = zlib.decompress(raw, 47)
        compressed += len(raw)
        uncompressed += len(body)
        records += len(orjson.loads(body)["Records"])
        parts = path.relative_to(cloudtrail).parts  # AWSLogs, o-ORG, ACCOUNT, CloudTrail, REGION
        streams.setdefault((parts[2], parts[4]), []).append(path)
    busiest = max(streams.values(), key=lambda ps: sum(p.stat().st_size for p in ps))
    busiest.sort(key=lambda p: p.name)  # ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_...: in time
    sizes = tuple(p.stat().st_size for p in busiest)
    head = busiest[:RECOMPRESS_SAMPLE]
    level6 = sum(len(zlib.compress(zlib.decompress(p.read_bytes(), 47), 6)) for p in head)
    sample = Sample(events=events, records=records, files=len(files), compressed=compressed,
                    uncompressed=uncompressed, files_per_day=len(sizes), file_sizes=sizes,
                    recompressed_ratio=level6 / sum(sizes[:len(head)]))
    cached.write_bytes(orjson.dumps(asdict(sample)))
    return sample


# -- 3. the virtual bucket ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Partition:
    """One delivery folder AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/."""

    account: str
    region: str
    timestamp: str  # yyyy/MM/dd, as the projected partition column
    sizes: tuple[int, ...]  # its objects' sizes (shared between partitions: same day profile)
    bytes: int

    @property
    def prefix(self) -> str:
        return f"AWSLogs/{ORG}/{self.account}/CloudTrail/{self.region}/{self.timestamp}/"

    def objects(self) -> Iterator[tuple[str, int]]:
        """The listing: (key, size) of each object, five minutes apart."""
        ymd = self.timestamp.replace("/", "")
        for i, size in enumerate(self.sizes):
            minute = i * 1440 // len(self.sizes)
            yield (f"{self.prefix}{self.account}_CloudTrail_{self.region}_"
                   f"{ymd}T{minute // 60:02d}{minute % 60:02d}Z_{i:016x}.json.gz", size)


def day_profile(sample: Sample, events_per_day: int) -> tuple[int, ...]:
    """Object sizes of one partition: the busiest stream's files, scaled so they hold
    `events_per_day` records at the measured bytes per record."""
    scale = events_per_day * sample.bytes_per_record / sum(sample.file_sizes)
    return tuple(max(1, round(size * scale)) for size in sample.file_sizes)


def layout(accounts: Sequence[str], regions: Sequence[str], days: Sequence[date],
           sizes: tuple[int, ...]) -> dict[str, list[Partition]]:
    """The bucket's partitions, by account (the table's injected partition)."""
    total = sum(sizes)
    stamps = [d.strftime("%Y/%m/%d") for d in days]
    return {a: [Partition(a, r, t, sizes, total) for r in regions for t in stamps]
            for a in accounts}


# -- 4. what each query scans --------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    partitions: int
    objects: int
    bytes: int


def select(bucket: dict[str, list[Partition]], account: str | None, first: str | None,
           last: str | None) -> Scan:
    """Objects the query reads: those of the partitions matching its predicate
    (account = ? AND "timestamp" BETWEEN ? AND ?; None: that column is not filtered)."""
    candidates = bucket[account] if account is not None else (
        p for ps in bucket.values() for p in ps)
    parts = objects = scanned = 0
    for p in candidates:
        if first is not None and not first <= p.timestamp <= last:  # type: ignore[operator]
            continue
        parts += 1
        objects += len(p.sizes)
        scanned += p.bytes
    return Scan(parts, objects, scanned)


def billed(scanned: int) -> int:
    return max(MIN_BILLED, math.ceil(scanned / MB) * MB)


def run(bucket: dict[str, list[Partition]], since: date | None, until: date,
        account_pruned: bool, price_per_tb: float) -> dict[str, float | int]:
    """One run: a query per account, each reading what its predicate selects."""
    first, last = partition_range(since, until) if since is not None else (None, None)
    memo: dict[tuple[str | None, str | None, str | None], Scan] = {}
    totals = {"queries": 0, "partitions": 0, "objects": 0, "scanned": 0, "billed": 0,
              "min_query_scanned": 0}
    cost = 0.0
    for account in bucket:
        key = (account if account_pruned else None, first, last)
        if key not in memo:  # an unpruned account reads the same objects every query
            memo[key] = select(bucket, *key)
        scan = memo[key]
        totals["queries"] += 1
        totals["partitions"] += scan.partitions
        totals["objects"] += scan.objects
        totals["scanned"] += scan.bytes
        totals["billed"] += billed(scan.bytes)
        if totals["queries"] == 1 or scan.bytes < totals["min_query_scanned"]:
            totals["min_query_scanned"] = scan.bytes
        cost += billed_cost(scan.bytes, price_per_tb)  # the project's own billing
    usd = totals["billed"] * price_per_tb / TB
    if not math.isclose(usd, cost, rel_tol=1e-9):
        raise SystemExit(f"billing mismatch: bench {usd} USD, rightsizer billed_cost {cost} USD")
    return {**totals, "usd_per_run": usd, "usd_per_month": usd * RUNS_PER_MONTH}


# -- output ------------------------------------------------------------------------------------


def human(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1024:,.1f} KiB"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=200_000,
                        help="records per account and region and day (default 200,000)")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=4, help=f"1..{len(REGIONS)}")
    parser.add_argument("--retention-days", type=int, default=365)
    parser.add_argument("--window-days", type=int, default=90)
    parser.add_argument("--price-per-tb", type=float, default=5.0,
                        help="USD per TB scanned, TB = 2**40 bytes (default 5.0)")
    parser.add_argument("--services", type=int, default=20, help="ECS services simulated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=DATA,
                        help="where the simulated day is cached (default bench/_data)")
    args = parser.parse_args(argv)
    if args.events_per_day < 1 or args.accounts < 1 or args.retention_days < 1:
        parser.error("--events-per-day, --accounts and --retention-days must be >= 1")
    if not 1 <= args.regions <= len(REGIONS):
        parser.error(f"--regions must be between 1 and {len(REGIONS)}")
    if not 2 <= args.window_days <= args.retention_days:
        parser.error("--window-days must be between 2 and --retention-days")
    if args.price_per_tb <= 0:
        parser.error("--price-per-tb must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    args = parse(argv)
    account = sample_dir(args.data_dir, args.events_per_day, args.services, args.seed)
    seconds = simulate_day(account, args.events_per_day, args.services, args.seed)
    print(f"simulate     {f'{seconds:.1f} s' if seconds else 'cached'}: {account}", flush=True)
    sample = measure(account, args.events_per_day)

    today = DEFAULT_END.date() - timedelta(days=1)  # the simulated day
    tomorrow = today + timedelta(days=1)  # until: exclusive, midnight
    days = [today - timedelta(days=i) for i in range(args.retention_days - 1, -1, -1)]
    accounts = [f"{100_000_000_000 + 7919 * i:012d}" for i in range(args.accounts)]
    sizes = day_profile(sample, args.events_per_day)
    bucket = layout(accounts, REGIONS[:args.regions], days, sizes)
    partitions = sum(len(ps) for ps in bucket.values())
    table_bytes = partitions * sum(sizes)

    runs = {
        "a": ("(a)  full window, pruned",
              run(bucket, tomorrow - timedelta(days=args.window_days), tomorrow, True,
                  args.price_per_tb)),
        "b": ("(b)  incremental: yesterday+today",
              run(bucket, today - timedelta(days=1), tomorrow, True, args.price_per_tb)),
        "c": ("(c)  no projection: whole table",
              run(bucket, None, tomorrow, False, args.price_per_tb)),
        "c_eventtime": ("(c') eventtime only, account pruned",
                        run(bucket, None, tomorrow, True, args.price_per_tb)),
    }

    print(f"sample       1 simulated day: {sample.events:,} events = {sample.records:,} records "
          f"delivered, {sample.files:,} delivery files, {human(sample.compressed)} gzip, "
          f"{human(sample.uncompressed)} JSON")
    print(f"measured     {sample.bytes_per_record:,.1f} B/event compressed, compression ratio "
          f"{sample.ratio:.1f}x; busiest stream {sample.files_per_day} files/day")
    print(f"             (simulator writes gzip level 1; recompressed at level 6 a sample is "
          f"{(1 - sample.recompressed_ratio) * 100:.0f}% smaller)")
    print(f"bucket       {args.accounts} accounts x {args.regions} regions x "
          f"{args.retention_days} days = {partitions:,} partitions, "
          f"{partitions * len(sizes):,} objects, {human(table_bytes)}")
    print(f"             per partition (account, region, day): {args.events_per_day:,} "
          f"events, {len(sizes)} objects, {human(sum(sizes))}")
    print(f"billing      {args.price_per_tb:.2f} USD per TB (TB = 2**40 B), per query rounded up "
          f"to the MB (2**20 B), min 10 MB; month = {RUNS_PER_MONTH} daily runs; "
          f"window {args.window_days} d, until tomorrow 00:00")
    print()
    print(f"{'run':<37} {'queries':>7} {'objects':>14} {'scanned':>12} {'billed':>12} "
          f"{'USD/run':>12} {'USD/month':>12}")
    for label, r in runs.values():
        print(f"{label:<37} {r['queries']:>7,} {r['objects']:>14,} {human(r['scanned']):>12} "
              f"{human(r['billed']):>12} {r['usd_per_run']:>12,.4f} {r['usd_per_month']:>12,.2f}")
    a, b, c = runs["a"][1], runs["b"][1], runs["c_eventtime"][1]
    print(f"ratios       (a)/(b) {a['scanned'] / b['scanned']:.1f}x, "
          f"(c')/(a) {c['scanned'] / a['scanned']:.1f}x, "
          f"(c)/(a) {runs['c'][1]['scanned'] / a['scanned']:.1f}x")
    return {
        "sample": {"events": sample.events, "records": sample.records, "files": sample.files,
                   "compressed": sample.compressed, "uncompressed": sample.uncompressed,
                   "bytes_per_event": sample.bytes_per_record, "compression_ratio": sample.ratio,
                   "files_per_day": sample.files_per_day},
        "partitions": partitions,
        "partition_bytes": sum(sizes),
        "table_bytes": table_bytes,
        "runs": {name: r for name, (_, r) in runs.items()},
        "first_object": next(next(iter(bucket.values()))[0].objects()),
    }


if __name__ == "__main__":
    main()
