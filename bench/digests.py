"""What reading CloudTrail digest files costs ingest (log integrity): every digest under the
``CloudTrail-Digest/`` folders of a simulated account, read, parsed and stored in a fresh store,
as ``rightsizer ingest`` does after the log files.

    .venv/bin/python bench/digests.py                       # the account bench/run.py caches
    .venv/bin/python bench/digests.py --root sample_logs/cloudtrail

Prints the digests read, the seconds and the time per digest.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rightsizer.pipeline.digests import ingest_digests
from rightsizer.sources.locate import Scope
from rightsizer.store.database import Store

DEFAULT_ROOT = Path(__file__).parent / "_data" / "run-200000-20-1"


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="A folder of CloudTrail (the bench/run.py account by default; "
                             "run bench/run.py once to make it).")
    args = parser.parse_args(argv)
    folders = sorted({str(p) for p in args.root.rglob("CloudTrail-Digest") if p.is_dir()})
    if not folders:
        raise SystemExit(f"{args.root}: no CloudTrail-Digest folder")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "digests.duckdb") as store:
        began = time.perf_counter()
        read, bad = ingest_digests(folders, store, Scope(), None, "bench")
        seconds = time.perf_counter() - began
    print(f"{read:,} digests read ({len(bad)} unreadable) in {seconds:.2f} s, "
          f"{1000 * seconds / max(read, 1):.2f} ms each")
    return {"digests": read, "seconds": seconds}


if __name__ == "__main__":
    main()
