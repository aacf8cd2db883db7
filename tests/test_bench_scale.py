"""bench/scale.py's reading of a run's JSON stage log, and bench/peak_rss.py's peak memory per
stage: which polled samples fall in which stage's window."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from peak_rss import peak_by_stage  # noqa: E402
from scale import stage_seconds, stage_windows  # noqa: E402

START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()


def log_line(stage: str, ended: float, seconds: float) -> str:
    moment = datetime.fromtimestamp(START + ended, UTC)
    return json.dumps({"time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                       "level": "info", "logger": "rightsizer.stages",
                       "message": f"stage {stage} done", "stage": stage, "seconds": seconds})


def test_stage_windows_come_from_the_end_time_and_seconds_of_each_stage_line() -> None:
    log = "\n".join([log_line("ingest", 10.0, 10.0), "not json", '{"message": "other"}',
                     log_line("reports", 14.5, 2.5)]).encode()
    assert stage_windows(log) == [("ingest", START, START + 10.0),
                                  ("reports", START + 12.0, START + 14.5)]
    assert stage_seconds(log) == {"ingest": 10.0, "reports": 2.5}


def test_each_stage_gets_the_highest_sample_polled_inside_it() -> None:
    samples = [(START + t, rss) for t, rss in [(1, 100), (5, 900), (10, 300), (11, 950),
                                               (12.5, 400), (13, 700)]]
    stages = [("ingest", START, START + 10.0), ("inventory", START + 10.2, START + 10.4),
              ("reports", START + 12.0, START + 14.5)]
    # 11 s fell between stages (950 is no stage's); inventory had no sample.
    assert peak_by_stage(samples, stages) == {"ingest": 900, "reports": 700}
