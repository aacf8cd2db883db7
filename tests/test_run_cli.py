"""``rightsizer run`` through click's runner: output folder, exit codes, configuration."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
IAM = str(SAMPLE / "iam/authorization-details.json")
ECS = str(SAMPLE / "ecs/task-definitions.json")
TRAIL = str(SAMPLE / "trail/event-selectors.json")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's CloudTrail, ingested once for the module."""
    db = tmp_path_factory.mktemp("run") / "sample.duckdb"
    code, _, err = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db), "--workers", "1")
    assert code == 0, err
    return db


def test_run_writes_the_output_folder_and_prints_a_table(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store),
                               "--out", str(out), "--trail", TRAIL)
    assert code == 0, err
    assert "11 ECS roles" in stdout and "ecsTaskExecutionRole" in stdout
    for name in ("policy.json", "policy.cfn.yaml", "policy.tf", "diff.md"):
        assert (out / "roles" / "orders-api-task" / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert {"schema_version", "tool_version", "catalog_version", "window", "sources",
            "roles"} <= set(summary)
    role = summary["roles"][0]
    assert {"name", "arn", "kinds", "task_definitions", "granted_actions", "used_actions",
            "unused_actions", "kept_unobservable", "denied_actions", "proposed_actions",
            "policy_path", "findings", "replay"} <= set(role)


def test_json_is_one_object(store: Path, tmp_path: Path) -> None:
    code, stdout, _ = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store),
                             "--out", str(tmp_path / "o"), "--trail", TRAIL, "--json")
    assert code == 0
    data = orjson.loads(stdout)
    assert len(data["roles"]) == 11
    judged = [r for r in data["roles"] if r["evidence_sufficient"]]
    assert len(judged) == 10 and all(r["proof_passed"] for r in judged)
    (idle,) = [r for r in data["roles"] if not r["evidence_sufficient"]]
    assert idle["name"] == "notifier-task-legacy" and idle["policy_path"] is None


def test_fail_on_findings_exits_3(store: Path, tmp_path: Path) -> None:
    args = ("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out", str(tmp_path / "o"),
            "--trail", TRAIL)
    assert invoke(*args)[0] == 0
    # The sample has a critical finding (reports-batch-task's NotAction grant).
    assert invoke(*args, "--fail-on-findings")[0] == 3
    config = tmp_path / "rightsizer.toml"
    config.write_text('[findings]\nfail_on = "critical"\n')
    assert invoke(*args, "--fail-on-findings", "--config", str(config))[0] == 3


def test_exclusions_keep_an_unused_action(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "rightsizer.toml"
    config.write_text(
        '[analysis]\nmin_window_days = 60\n\n'
        '[[exclusions]]\naction = "kms:CreateKey"\nrole = "ecsTaskExecution*"\n'
        'reason = "key bootstrap at deploy time"\n'
        '[[exclusions]]\naction = "kms:ListKeys"\nreason = "expired"\nexpires = 2020-01-01\n')
    out = tmp_path / "o"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                          str(out), "--trail", TRAIL, "--config", str(config))
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    role = next(r for r in summary["roles"] if r["name"] == "ecsTaskExecutionRole")
    assert {"action": "kms:CreateKey", "reason": "key bootstrap at deploy time",
            "resources": ["*"]} in role["kept_excluded"]
    assert "kms:CreateKey" in role["proposed_actions"]
    assert "kms:ListKeys" in role["unused_actions"]  # the exclusion has expired
    # 35 days observed, 60 asked for: flagged on every role.
    assert all("WINDOW_TOO_SHORT" in {f["code"] for f in r["findings"]}
               for r in summary["roles"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[analysis\n", "not valid TOML"),
        ("[nonsense]\n", "unknown section [nonsense]"),
        ("[analysis]\nmin_window = 3\n", "unknown key(s) in [analysis]: min_window"),
        ('[[exclusions]]\naction = "kms:Decrypt"\n', "needs a reason"),
        ('[findings]\nfail_on = "urgent"\n', "fail_on must be one of"),
        ('[[trails]]\nmanagement_events = "some"\n', "management_events must be one of"),
    ],
)
def test_bad_configuration_exits_2_naming_it(store: Path, tmp_path: Path, content: str,
                                             message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                          str(tmp_path / "o"), "--config", str(config))
    assert code == 2
    assert str(config) in err and message in err


def test_run_with_logs_ingests_first_and_bad_input_exits_4(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs).mkdir()
    (logs / "broken.json").write_text('{"Records": [')
    code, _, err = invoke("run", "--logs", str(SAMPLE / "cloudtrail"), "--logs", str(logs),
                          "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "s.duckdb"),
                          "--out", str(tmp_path / "o"), "--trail", TRAIL, "--workers", "1")
    assert code == 4
    assert "broken.json" in err
    assert (tmp_path / "o" / "summary.json").is_file()  # everything readable was still used


def test_no_store_and_no_logs_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "none.db"),
                          "--out", str(tmp_path / "o"))
    assert code == 2 and "no store" in err


def test_pdf_and_the_report_command(store: Path, tmp_path: Path, chromium: str) -> None:
    out = tmp_path / "o"
    code, stdout, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                               str(out), "--trail", TRAIL, "--pdf")
    assert code == 0, err
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "report.html, report.md, findings.csv, report.pdf" in stdout
    (out / "report.html").unlink()
    code, stdout, _ = invoke("report", str(out))
    assert code == 0 and (out / "report.html").is_file() and "report.html" in stdout


def test_pdf_without_chromium_says_how_to_get_it(store: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "o"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                          str(out), "--trail", TRAIL, "--pdf")
    assert code == 2
    assert "apt-get install chromium" in err
    assert (out / "report.html").is_file()  # everything but the PDF was written


def test_report_without_a_summary_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("report", str(tmp_path))
    assert code == 2 and "no summary.json" in err
