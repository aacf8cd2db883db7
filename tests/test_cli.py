"""The command line, through click's runner: exit codes, --json, human output."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from click.testing import CliRunner
from helpers import event, write_delivery

from rightsizer.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_logs"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "ingest" in out and "simulate" in out


def test_ingest_json_is_one_object_and_exit_0(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(logs / "a.json.gz", [event(1), event(2), event(1)])
    db = tmp_path / "c.duckdb"
    code, out, err = invoke("ingest", str(logs), "--db", str(db), "--json", "--workers", "1")
    assert code == 0, err
    data = orjson.loads(out)  # exactly one JSON document on stdout
    assert {k: data[k] for k in ("files_seen", "files_ingested", "files_already_ingested",
                                 "events_ingested", "events_duplicate")} == {
        "files_seen": 1, "files_ingested": 1, "files_already_ingested": 0,
        "events_ingested": 2, "events_duplicate": 1}
    assert data["files_skipped"] == [] and data["bad_inputs"] == []
    assert isinstance(data["seconds"], float)


def test_bad_input_exits_4_naming_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(logs / "good.json.gz", [event(1)])
    (logs / "bad.json.gz").write_bytes(gzip.compress(b'{"Records": [')[:-4])
    code, out, err = invoke("ingest", str(logs), "--db", str(tmp_path / "b.duckdb"), "--json")
    assert code == 4
    data = orjson.loads(out)
    assert data["events_ingested"] == 1
    assert [Path(b["path"]).name for b in data["bad_inputs"]] == ["bad.json.gz"]
    assert "bad.json.gz" in err


def test_missing_source_and_usage_errors_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke("ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb"))
    assert code == 2 and "no such file or folder" in err
    code, _, err = invoke("ingest", "ftp://host/x", "--db", str(tmp_path / "y.duckdb"))
    assert code == 2 and "unsupported source" in err
    code, _, err = invoke("ingest", str(tmp_path), "--since", "2026-10-05", "--until",
                          "2026-10-01", "--db", str(tmp_path / "z.duckdb"))
    assert code == 2 and "after --until" in err
    code, _, _ = invoke("ingest")
    assert code == 2


def test_human_summary_on_sample_logs(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    code, out, err = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db))
    assert code == 0, err
    assert "2,006 new events" in out and "8 duplicates not stored" in out
    assert "skipped 2: CloudTrail digest file" in out
    code, out, _ = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db))
    assert code == 0 and "(116 already ingested)" in out and "0 new events" in out


def test_simulate_writes_an_account(tmp_path: Path) -> None:
    out_dir = tmp_path / "acct"
    code, out, err = invoke("simulate", str(out_dir), "--events", "300", "--seed", "3")
    assert code == 0, err
    assert "306 events" in out  # 300 of traffic, 6 role changes
    assert (out_dir / "iam" / "authorization-details.json").is_file()
    assert (out_dir / "ecs" / "task-definitions.json").is_file()
    code, _, err = invoke("simulate", str(out_dir), "--events", "10")
    assert code == 2 and "not empty" in err


def test_python_dash_m_runs_the_same_command() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "rightsizer", "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "ingest" in done.stdout
