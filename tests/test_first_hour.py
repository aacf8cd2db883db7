"""What a new user trips over in the first hour (issue 14): inputs that do not exist, missing AWS
credentials, files that are not CloudTrail, lock files left behind, the window as asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
IAM = str(SAMPLE / "iam" / "authorization-details.json")
ECS = str(SAMPLE / "ecs" / "task-definitions.json")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ingest_of_a_missing_folder_is_a_usage_error_that_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = invoke("ingest", str(missing), "--db", str(tmp_path / "x.duckdb"))
    assert result.exit_code == 2
    assert result.stderr.count(str(missing)) == 1 and "no such file or folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, no lock file


def test_run_with_missing_logs_is_a_usage_error_named_once(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = invoke("run", "--logs", str(missing), "--iam", IAM, "--ecs", ECS, "--db",
                    str(tmp_path / "y.duckdb"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.count(str(missing)) == 1
    assert "ERROR rightsizer" not in result.stderr  # no raw logging line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--iam", "--ecs", "--trail"])
def test_a_missing_input_file_is_a_usage_error_and_leaves_no_lock(tmp_path: Path,
                                                                  flag: str) -> None:
    args = {"--iam": IAM, "--ecs": ECS}
    args[flag] = str(tmp_path / "missing.json")
    result = invoke("run", "--logs", str(SAMPLE / "cloudtrail"), *[x for kv in args.items()
                                                                  for x in kv],
                    "--db", str(tmp_path / "z.duckdb"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"{flag} {tmp_path / 'missing.json'}: no such file" in result.stderr
    assert not list(tmp_path.glob("*.lock")) and not (tmp_path / "z.duckdb").exists()


def test_missing_aws_credentials_is_a_usage_error_with_a_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    result = invoke("inventory", "--iam", "aws", "--ecs", ECS, "--db",
                    str(tmp_path / "i.duckdb"))
    assert result.exit_code == 2, result.output
    assert "no AWS credentials" in result.stderr
    assert "profile default" in result.stderr and "region eu-west-1" in result.stderr
    assert "--profile" in result.stderr and "aws configure" in result.stderr


def test_no_lock_file_is_left_after_a_run(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db)).exit_code == 0
    assert db.is_file() and not Path(f"{db}.lock").exists()


def test_run_names_each_file_that_is_not_cloudtrail(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "notes.json").write_text(json.dumps({"hello": "world"}))
    (logs / "other.json").write_text("[1, 2")
    result = invoke("run", "--logs", str(logs), "--iam", IAM, "--ecs", ECS, "--db",
                    str(tmp_path / "w.duckdb"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 4, result.output
    assert "notes.json" in result.stderr and "other.json" in result.stderr


def test_the_window_is_printed_as_the_days_asked_for(tmp_path: Path) -> None:
    result = invoke("run", "--logs", str(SAMPLE / "cloudtrail"), "--iam", IAM, "--ecs", ECS,
                    "--db", str(tmp_path / "v.duckdb"), "--out", str(tmp_path / "out"),
                    "--since", "2026-10-20", "--until", "2026-10-31")
    assert result.exit_code == 0, result.output
    assert "Window 2026-10-20 to 2026-10-31 (12 days" in result.stdout


def test_the_sample_outputs_never_say_one_of_a_plural() -> None:
    # "1 actions were refused" reads as a bug to a reviewer (issue 14).
    import re

    wrong = re.compile(r"(?<![\d,.])1 (?:[a-zA-Z]+ )?(actions|calls|kinds|grants|findings|queries|"
                       r"roles|days|events|files|statements|sessions|resources|inputs|times)\b|"
                       r"(?<![\d,.])1 \w+ were\b")
    golden = ROOT / "tests" / "golden" / "sample"
    found = [(path.name, match.group(0)) for path in sorted(golden.rglob("*"))
             if path.suffix in (".md", ".html", ".csv", ".json")
             for match in wrong.finditer(path.read_text())]
    assert found == []


def test_every_option_of_every_command_says_what_it_does() -> None:
    import click

    def commands(group: click.Group, prefix: str = "rightsizer") -> Any:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from commands(command, f"{prefix} {name}")
            else:
                yield f"{prefix} {name}", command

    silent = [(name, option.opts[0]) for name, command in commands(main)
              for option in command.params
              if isinstance(option, click.Option) and not (option.help or "").strip()]
    assert silent == []
    assert invoke("--version").output.startswith("rightsizer, version ")


def test_an_incremental_run_says_what_the_analysis_used(tmp_path: Path) -> None:
    # The second run reads no new file: its provenance must still say what the analysis used.
    args = ("run", "--logs", str(SAMPLE / "cloudtrail"), "--iam", IAM, "--ecs", ECS, "--db",
            str(tmp_path / "u.duckdb"))
    assert invoke(*args, "--out", str(tmp_path / "first")).exit_code == 0
    assert invoke(*args, "--out", str(tmp_path / "second")).exit_code == 0
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["ingest"]["files_ingested"] == 0
    assert summary["analysis_input"] == {"events": 2006, "files": 116, "ingest_runs": 1}
    text = (tmp_path / "second" / "report.md").read_text()
    assert "the analysis used 2,006 events in the window, from 116 files stored by 1 run" in text
    html = (tmp_path / "second" / "report.html").read_text()
    assert "the analysis used 2,006 events in the window, from 116 files stored by 1 run" in html


def test_run_reports_its_stages_in_order(tmp_path: Path) -> None:
    import rightsizer

    seen: list[tuple[str, int, int]] = []
    rightsizer.run(logs=[str(SAMPLE / "cloudtrail")], iam=IAM, ecs=ECS,
                   db=tmp_path / "p.duckdb", out=tmp_path / "out", workers=1,
                   progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["ingest", "inventory", "usage query", "log integrity", "roles analyzed",
                      "reports"]
    roles = [(done, total) for stage, done, total in seen if stage == "roles analyzed"]
    assert roles[-1] == (11, 11) and [d for d, _ in roles] == sorted(d for d, _ in roles)


def test_json_logs_give_each_stage_its_duration(tmp_path: Path) -> None:
    result = invoke("run", "--logs", str(SAMPLE / "cloudtrail"), "--iam", IAM, "--ecs", ECS,
                    "--db", str(tmp_path / "j.duckdb"), "--out", str(tmp_path / "out"),
                    "--log-format", "json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    stages = {line["stage"]: line["seconds"] for line in lines if "stage" in line}
    assert set(stages) == {"ingest", "inventory", "usage query", "log integrity",
                           "roles analyzed", "reports"}
    assert all(isinstance(s, float) and s >= 0 for s in stages.values())
    # And the peak memory so far, a high-water mark: it never falls from stage to stage.
    peaks = [line["max_rss_mib"] for line in lines if "stage" in line]
    assert all(isinstance(p, int) and p > 50 for p in peaks), peaks
    assert peaks == sorted(peaks)
    assert "\x1b[" not in result.stderr  # no progress bar: stderr is not a terminal


def test_inventory_takes_the_run_configuration(tmp_path: Path) -> None:
    # The same rightsizer.toml a scheduled run reads (issue 14): sources and store from it.
    config = tmp_path / "rightsizer.toml"
    config.write_text(f'[sources]\niam = "{IAM}"\necs = "{ECS}"\n\n'
                      f'[store]\npath = "{tmp_path / "c.duckdb"}"\n')
    result = invoke("inventory", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert len([r for r in json.loads(result.stdout)["roles"] if r["ecs"]]) == 11
    missing = invoke("inventory", "--json")
    assert missing.exit_code == 2 and "sources.iam is not set" in missing.stderr
