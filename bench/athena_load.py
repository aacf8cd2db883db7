"""What bringing Athena's aggregates home costs: parsing the result rows, storing them, and
reading them back as usage rows for the analysis.

    .venv/bin/python bench/athena_load.py                   # 200,000 result rows
    .venv/bin/python bench/athena_load.py --rows 1000000

The rows are what ``queries/athena/usage.sql`` returns, as PyAthena hands them over (strings):
``--roles`` roles calling ``--calls`` kinds of call each, on resources drawn from ``--resources``
per role, every day of a 90-day window, so that parameters repeat across days as in real
traffic. Measured: ``rows_from_result`` (parse, request keys, merge), the store's
``replace_athena_usage`` (one transaction), and ``Store.usage`` (what run reads), with the peak
RSS of the process and the size of the store.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
from peak_rss import PeakRss

from rightsizer.pipeline.ingest import _athena_rows
from rightsizer.sources.athena import PARAMETERS, rows_from_result
from rightsizer.store.database import Store

_CALLS = [("s3.amazonaws.com", "GetObject", 0), ("s3.amazonaws.com", "PutObject", 0),
          ("dynamodb.amazonaws.com", "PutItem", PARAMETERS.index("tableName")),
          ("sqs.amazonaws.com", "SendMessage", PARAMETERS.index("queueUrl")),
          ("kms.amazonaws.com", "Decrypt", PARAMETERS.index("keyId")),
          ("secretsmanager.amazonaws.com", "GetSecretValue", PARAMETERS.index("secretId"))]


def result_rows(rows: int, roles: int, calls: int, resources: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    start = date(2026, 8, 1)
    out: list[tuple] = []
    while len(out) < rows:
        role = rng.randrange(roles)
        source, name, slot = _CALLS[rng.randrange(min(calls, len(_CALLS)))]
        resource = rng.randrange(resources)
        picked: list[object] = [None] * len(PARAMETERS)
        picked[slot] = f"res-{role}-{resource}"
        if slot == 0:
            picked[1] = f"data/{resource}/part.json"
        day = start + timedelta(days=rng.randrange(90))
        out.append((
            "call", f"arn:aws:iam::111122223333:role/ecs/service-{role}-task", source, name,
            "eu-west-1", "111122223333", orjson.dumps(picked).decode(), "[]", day.isoformat(),
            "ok", "", str(rng.randrange(1, 500)), str(rng.randrange(1, 20)),
            f"{day} 00:{rng.randrange(60):02d}:00.000", f"{day} 23:{rng.randrange(60):02d}:00.000",
            None))
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--roles", type=int, default=200)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    records = result_rows(args.rows, args.roles, args.calls, args.resources, args.seed)
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        began = time.perf_counter()
        rows = rows_from_result(records)
        parsed = time.perf_counter()
        with Store(Path(tmp) / "load.duckdb") as store:
            store.replace_athena_usage("athena://bench.trail", "111122223333", _athena_rows(rows), {
                "query_id": "bench", "since": datetime(2026, 8, 1), "until": datetime(2026, 10, 30),
                "first_partition": "2026/08/01", "last_partition": "2026/10/30",
                "bytes_scanned": 0, "cost_usd": 0.0, "rows": len(rows), "seconds": 0.0}, "bench")
            stored = time.perf_counter()
            usage = store.usage()
            read = time.perf_counter()
        size = (Path(tmp) / "load.duckdb").stat().st_size
    figures = {"result_rows": len(records), "usage_rows": len(usage),
               "parse_s": parsed - began, "store_s": stored - parsed, "read_s": read - stored,
               "peak_rss_mib": rss.main / 2**20, "store_mib": size / 2**20}
    print(f"{len(records):,} result rows -> {len(rows):,} usage rows "
          f"({args.roles} roles, {args.calls} calls, {args.resources} resources, 90 days)")
    print(f"  parse (rows_from_result)      {figures['parse_s']:6.2f} s")
    print(f"  store (replace_athena_usage)  {figures['store_s']:6.2f} s")
    print(f"  read back (Store.usage)       {figures['read_s']:6.2f} s")
    print(f"  peak RSS                      {figures['peak_rss_mib']:6.0f} MiB")
    print(f"  store on disk                 {figures['store_mib']:6.1f} MiB")
    return figures


if __name__ == "__main__":
    main()
