"""``rightsizer run`` as a scheduled job: a configuration file and its layers, dated output
folders and ``latest``, incremental runs, the store lock, JSON logs and --fail-on-findings.

Runs go through click's runner, except where the real stderr of a process matters (JSON logs)
or a second process must hold the store's lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
CLOUDTRAIL = str(SAMPLE / "cloudtrail")
IAM = str(SAMPLE / "iam/authorization-details.json")
ECS = str(SAMPLE / "ecs/task-definitions.json")
TRAIL = str(SAMPLE / "trail/event-selectors.json")
# The sample's events run from 2026-09-27 to 2026-11-01.
SINCE, UNTIL = "2026-09-27", "2026-11-01"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{4}Z(-\d+)?$")
BUSY = "another rightsizer run is using this store"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's or CI's RIGHTSIZER_* variables must not leak into these runs."""
    for name in list(os.environ):
        if name.startswith("RIGHTSIZER_") and name != "RIGHTSIZER_CHROMIUM":
            monkeypatch.delenv(name)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own: its real stderr."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSIZER_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "rightsizer", *args], capture_output=True,
                          text=True, env=full_env, cwd=ROOT, timeout=300, check=False)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A TOML file (JSON strings, lists and booleans are TOML too; dates are bare)."""
    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            text = value if key in ("since", "until") else json.dumps(value)
            lines.append(f"{key} = {text}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def job_config(tmp_path: Path, *, db: Path, out: Path, logs: bool = True,
               name: str = "rightsizer.toml", **extra: dict[str, Any]) -> Path:
    sources: dict[str, Any] = {"iam": IAM, "ecs": ECS, "trail": [TRAIL]}
    if logs:
        sources["logs"] = [CLOUDTRAIL]
    sections: dict[str, dict[str, Any]] = {
        "sources": sources,
        "store": {"path": str(db)},
        "output": {"folder": str(out), "dated": True, "keep": 2},
        "window": {"since": SINCE, "until": UNTIL},
        "run": {"workers": 1},
    }
    for name, keys in extra.items():
        sections.setdefault(name, {}).update(keys)
    return write_config(tmp_path / name, sections)


def dated_runs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink()
                  and STAMP.match(p.name))


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line, each of which must be one JSON log object."""
    entries = []
    for line in stderr.splitlines():
        entry = orjson.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= set(entry), line
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", entry["time"]), line
        entries.append(entry)
    return entries


def role_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes()
            for p in sorted((out / "roles").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's CloudTrail, ingested once for the module (one per xdist worker)."""
    db = tmp_path_factory.mktemp("job") / "sample.duckdb"
    code, _, err = invoke("ingest", CLOUDTRAIL, "--db", str(db), "--workers", "1")
    assert code == 0, err
    return db


def store_args(db: Path, out: Path) -> tuple[str, ...]:
    """A run over the ingested store (no --logs), the sample's whole window."""
    return ("run", "--iam", IAM, "--ecs", ECS, "--trail", TRAIL, "--db", str(db),
            "--out", str(out), "--since", SINCE, "--until", UNTIL)


# -- 1. the configuration file drives the run ---------------------------------------------------


def test_a_config_file_drives_a_dated_run(tmp_path: Path) -> None:
    out, db = tmp_path / "out", tmp_path / "store" / "s.duckdb"
    config = job_config(tmp_path, db=db, out=out)
    before = datetime.now(UTC)
    code, stdout, err = invoke("run", "--config", str(config), "--json")
    assert code == 0, err
    data = orjson.loads(stdout)

    (run_folder,) = dated_runs(out)
    stamp = datetime.strptime(run_folder.name[:16], "%Y-%m-%dT%H%MZ").replace(tzinfo=UTC)
    assert before - timedelta(minutes=1) <= stamp <= datetime.now(UTC)  # UTC, not local time
    summary = json.loads((run_folder / "summary.json").read_text())
    assert summary["sources"]["settings"] == str(config)
    assert summary["sources"]["logs"] == [CLOUDTRAIL]
    assert summary["ingest"]["files_ingested"] == 116
    assert summary["window"]["start"] == f"{SINCE}T00:00:00Z"
    assert summary["window"]["end"] == "2026-11-02T00:00:00Z"
    assert db.is_file()  # the store the file named
    assert (run_folder / "roles" / "orders-api-task" / "policy.json").is_file()

    latest = out / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == run_folder.name  # relative: the folder can be moved
    assert latest.resolve() == run_folder.resolve()
    assert data["latest"] == str(latest)
    assert Path(data["out"]).resolve() == run_folder.resolve()

    settings = data["settings"]
    for key, value in (("output.folder", str(out)), ("output.dated", True),
                       ("output.keep", 2), ("store.path", str(db)),
                       ("window.since", SINCE), ("window.until", UNTIL),
                       ("sources.logs", [CLOUDTRAIL]), ("sources.iam", IAM)):
        assert settings[key] == {"value": value, "origin": str(config)}, key
    for key in ("window.days", "logging.format", "run.fail_on_findings", "findings.fail_on",
                "run.pdf", "aws.region"):
        assert settings[key]["origin"] == "default", key
    assert settings["logging.format"]["value"] == "text"


# -- 2. layers through the CLI -------------------------------------------------------------------


def test_environment_overrides_the_file_and_flags_the_environment(store: Path,
                                                                  tmp_path: Path) -> None:
    file_out, env_out, flag_out = tmp_path / "file", tmp_path / "env", tmp_path / "flag"
    config = job_config(tmp_path, db=store, out=file_out, logs=False)
    env = {"RIGHTSIZER_OUTPUT_FOLDER": str(env_out)}

    code, stdout, err = invoke("run", "--config", str(config), "--json", env=env)
    assert code == 0, err
    settings = orjson.loads(stdout)["settings"]
    assert settings["output.folder"] == {"value": str(env_out),
                                         "origin": "env RIGHTSIZER_OUTPUT_FOLDER"}
    assert settings["output.keep"]["origin"] == str(config)
    assert len(dated_runs(env_out)) == 1 and (env_out / "latest").is_symlink()
    assert not file_out.exists()

    code, stdout, err = invoke("run", "--config", str(config), "--json", "--out", str(flag_out),
                               "--no-dated", env=env)
    assert code == 0, err
    settings = orjson.loads(stdout)["settings"]
    assert settings["output.folder"] == {"value": str(flag_out), "origin": "flag"}
    assert settings["output.dated"] == {"value": False, "origin": "flag"}
    assert (flag_out / "summary.json").is_file()  # not dated: straight into the folder
    assert not (flag_out / "latest").exists() and not dated_runs(flag_out)
    assert len(dated_runs(env_out)) == 1  # the env's folder got nothing new
    assert not file_out.exists()


def test_bad_settings_exit_2_naming_the_layer_and_key(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = job_config(tmp_path, db=store, out=out, logs=False)
    args = ("run", "--config", str(config))

    code, _, err = invoke(*args, env={"RIGHTSIZER_WINDOW_DAYS": "abc"})
    assert code == 2
    assert "RIGHTSIZER_WINDOW_DAYS" in err and "'abc'" in err

    code, _, err = invoke(*args, env={"RIGHTSIZER_OUTPUT_KEEPS": "3"})
    assert code == 2 and "RIGHTSIZER_OUTPUT_KEEPS: unknown environment variable" in err

    # A typo in the file is an error even when a flag overrides the key.
    bad = job_config(tmp_path, db=store, out=out, logs=False, name="typo.toml",
                     output={"keep": "two"})
    code, _, err = invoke("run", "--config", str(bad), "--keep", "2")
    assert code == 2
    assert f"{bad}: output.keep" in err and "'two'" in err

    bad = job_config(tmp_path, db=store, out=out, logs=False, name="unknown.toml",
                     output={"folderr": "x"})
    code, _, err = invoke("run", "--config", str(bad))
    assert code == 2
    assert str(bad) in err and "unknown key(s) in [output]: folderr" in err

    # The file named by RIGHTSIZER_CONFIG, when --config is not given.
    code, _, err = invoke("run", env={"RIGHTSIZER_CONFIG": str(tmp_path / "missing.toml")})
    assert code == 2
    assert f"{tmp_path / 'missing.toml'}: no such configuration file" in err
    assert "RIGHTSIZER_CONFIG" in err

    code, _, err = invoke(*store_args(store, out)[:-4], "--since", "2026-11-01",
                          "--until", "2026-09-27")
    assert code == 2
    assert "--since 2026-11-01 is after --until 2026-09-27" in err

    # Across layers: the file's since, the flag's until.
    code, _, err = invoke(*args, "--until", "2026-09-01")
    assert code == 2
    assert "window.since 2026-09-27" in err and "--until 2026-09-01" in err
    assert not out.exists()  # no run started


# -- 3. dated runs -------------------------------------------------------------------------------


def test_dated_runs_keep_the_newest_and_latest_moves_only_after_a_complete_run(
        store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (*store_args(store, out), "--dated", "--keep", "2")
    latest = out / "latest"

    assert invoke(*args)[0] == 0
    (first,) = dated_runs(out)
    assert os.readlink(latest) == first.name
    code, _, err = invoke(*args)
    assert code == 0, err
    first_two = dated_runs(out)
    assert len(first_two) == 2
    second = next(p for p in first_two if p != first)
    assert os.readlink(latest) == second.name

    # A run that fails before writing anything: a missing IAM file (a usage error).
    missing = str(tmp_path / "no-such-iam.json")
    code, _, err = invoke(*args[:2], missing, *args[3:])
    assert code == 2 and "no-such-iam.json: no such file" in err
    assert dated_runs(out) == first_two
    assert os.readlink(latest) == second.name

    # A run that fails after it wrote most of its folder: the PDF printer is missing. It was
    # written to a hidden staging folder, which goes with the failure: it never shows as a run.
    code, _, err = invoke(*args, "--pdf",
                          env={"RIGHTSIZER_CHROMIUM": str(tmp_path / "no-chromium")})
    assert code == 2, err
    assert dated_runs(out) == first_two
    assert sorted(p.name for p in out.iterdir()) == sorted([first.name, second.name, "latest"])
    assert os.readlink(latest) == second.name  # still the last complete run
    assert latest.resolve() == second.resolve()

    # The third complete run, as a scheduled job logs it: -v and JSON lines.
    proc = cli("-v", *args, "--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    runs = dated_runs(out)
    assert len(runs) == 2  # keep = 2
    (third,) = set(runs) - {first, second}
    assert os.readlink(latest) == third.name
    assert first not in runs and not first.exists()

    entries = json_lines(proc.stderr)
    removed = [e for e in entries if e["level"] == "info"
               and e["message"].startswith("removed the old run")]
    assert removed and all(e["logger"] == "rightsizer.pipeline.job" for e in removed)
    assert any(first.name in e["message"] for e in removed)


def test_a_failed_run_does_not_push_out_a_complete_one(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (*store_args(store, out), "--dated", "--keep", "2")
    assert invoke(*args)[0] == 0
    (complete,) = dated_runs(out)
    code, _, _ = invoke(*args, "--pdf", env={"RIGHTSIZER_CHROMIUM": str(tmp_path / "none")})
    assert code == 2
    assert invoke(*args)[0] == 0
    assert complete in dated_runs(out)  # the two most recent complete runs are kept


def test_prune_orders_same_minute_runs_by_their_number(tmp_path: Path) -> None:
    from rightsizer.pipeline.job import _prune_runs

    stamp = "2026-11-28T2103Z"
    names = [stamp, *(f"{stamp}-{n}" for n in range(1, 12))]
    for name in names:
        (tmp_path / name).mkdir()
    _prune_runs(tmp_path, keep=2, current=tmp_path / names[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[-2:])


# -- 4. incremental and idempotent ---------------------------------------------------------------


def test_a_second_run_reads_nothing_new_and_proposes_the_same_policies(tmp_path: Path) -> None:
    out, db = tmp_path / "out", tmp_path / "s.duckdb"
    config = job_config(tmp_path, db=db, out=out, output={"dated": False})
    code, _, err = invoke("run", "--config", str(config))
    assert code == 0, err
    first = json.loads((out / "summary.json").read_text())
    assert first["ingest"]["files_ingested"] == 116
    policies = role_files(out)
    assert any(name.endswith("policy.json") for name in policies)

    code, _, err = invoke("run", "--config", str(config))
    assert code == 0, err
    second = json.loads((out / "summary.json").read_text())
    ingest = second["ingest"]
    assert ingest["files_ingested"] == 0 and ingest["events_ingested"] == 0
    assert ingest["files_already_ingested"] == 116
    assert role_files(out) == policies  # byte for byte
    assert second["events_in_window"] == first["events_in_window"] == 2006
    assert [r["proposed_actions"] for r in second["roles"]] == [
        r["proposed_actions"] for r in first["roles"]]


# -- 5. the store lock ---------------------------------------------------------------------------

_HOLD = """
import sys, time
from rightsizer.store.lock import store_lock
with store_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(300)
"""


@pytest.fixture
def holder(store: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store's lock (the lock is re-entrant in one process)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(store)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_a_run_while_another_holds_the_store_exits_2_naming_it(
        store: Path, holder: subprocess.Popen[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (*store_args(store, out), "--dated")
    code, _, err = invoke(*args)
    assert code == 2
    assert BUSY in err and f"pid {holder.pid} " in err and str(store) in err
    assert not out.exists() or not dated_runs(out)  # nothing written, latest not made

    code, _, err = invoke(*args, "--log-format", "json")
    assert code == 2
    (entry,) = json_lines(err)
    assert entry["exit_code"] == 2 and BUSY in entry["message"]

    # Killed: no cleanup runs (the lock file still names it), yet the OS released the flock.
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    lock_file = store.with_name(store.name + ".lock")
    assert f"pid {holder.pid} " in lock_file.read_text()
    code, _, err = invoke(*args)
    assert code == 0, err
    assert len(dated_runs(out)) == 1 and (out / "latest").is_symlink()
    assert not lock_file.exists()  # removed by the run that took it over, as it let go


# -- 6. JSON logs --------------------------------------------------------------------------------


def test_json_logs_name_a_bad_input_and_exit_4(tmp_path: Path) -> None:
    logs = tmp_path / "cloudtrail"
    shutil.copytree(CLOUDTRAIL, logs)
    sample = next(p for p in sorted(logs.rglob("*.json.gz"))
                  if "CloudTrail-Digest" not in p.parts)
    corrupt = sample.with_name(sample.name.replace(".json.gz", "_cut.json.gz"))
    corrupt.write_bytes(sample.read_bytes()[: sample.stat().st_size // 2])  # a cut download
    out = tmp_path / "out"
    proc = cli("-vv", "run", "--logs", str(logs), "--iam", IAM, "--ecs", ECS, "--trail", TRAIL,
               "--db", str(tmp_path / "s.duckdb"), "--out", str(out), "--workers", "1",
               "--log-format", "json")
    assert proc.returncode == 4, proc.stderr
    entries = json_lines(proc.stderr)
    bad = [e for e in entries if e["level"] == "error" and corrupt.name in e["message"]]
    assert len(bad) == 1 and bad[0]["message"].startswith("bad input: ")
    assert str(corrupt) in bad[0]["message"]
    assert bad[0]["logger"] == "rightsizer.cli"
    assert any(e["level"] == "debug" for e in entries)  # -vv: debug lines, as JSON too
    assert (out / "summary.json").is_file()  # everything readable was still used


def test_a_gzip_with_a_corrupt_deflate_stream_is_a_bad_input(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    corrupt = logs / "111122223333_CloudTrail_eu-west-1_20261015T1200Z_bad.json.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"garbage" * 20)
    code, _, err = invoke("ingest", str(logs), "--db", str(tmp_path / "s.duckdb"),
                          "--workers", "1")
    assert code == 4 and corrupt.name in err and "corrupt gzip" in err


def test_text_logs_are_the_default(store: Path, tmp_path: Path) -> None:
    code, _, err = invoke(*store_args(store, tmp_path / "out"), "--fail-on-findings")
    assert code == 3
    assert err.startswith("rightsizer: ") and "findings at high or worse" in err
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(err.splitlines()[0])


# -- 7. --fail-on-findings -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def iam_without_high(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample's IAM with its critical (NotAction) and high (EC2 trust) findings fixed: the
    worst finding left is medium."""
    data = json.loads(Path(IAM).read_text())
    for role in data["RoleDetailList"]:
        if role["RoleName"] == "reports-batch-task":
            role["RolePolicyList"][0]["PolicyDocument"]["Statement"][0] = {
                "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        if role["RoleName"] == "notifier-task-legacy":
            role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {
                "Service": "ecs-tasks.amazonaws.com"}
    path = tmp_path_factory.mktemp("iam") / "authorization-details.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_fail_on_findings_exits_3_with_a_json_log_line(store: Path, tmp_path: Path) -> None:
    args = store_args(store, tmp_path / "out")
    code, stdout, err = invoke(*args, "--json")
    assert code == 0, err
    severities = {f["severity"] for r in orjson.loads(stdout)["roles"] for f in r["findings"]}
    assert "critical" in severities  # reports-batch-task's NotAction grant

    code, _, err = invoke(*args, "--fail-on-findings", "--log-format", "json")
    assert code == 3
    (entry,) = [e for e in json_lines(err) if "exit_code" in e]
    assert entry["exit_code"] == 3 and entry["level"] == "error"
    assert "findings at high or worse" in entry["message"]

    code, _, err = invoke(*args, "--fail-on-findings", "--fail-on", "critical")
    assert code == 3 and "1 findings at critical or worse" in err


def test_fail_on_is_a_threshold(store: Path, iam_without_high: str, tmp_path: Path) -> None:
    args = ("run", "--iam", iam_without_high, *store_args(store, tmp_path / "out")[3:])
    code, stdout, err = invoke(*args, "--json")
    assert code == 0, err
    severities = {f["severity"] for r in orjson.loads(stdout)["roles"] for f in r["findings"]}
    assert severities == {"medium", "low"}

    assert invoke(*args, "--fail-on-findings")[0] == 0  # default: high
    assert invoke(*args, "--fail-on-findings", "--fail-on", "critical")[0] == 0
    code, _, err = invoke(*args, "--fail-on-findings", "--fail-on", "medium")
    assert code == 3 and "findings at medium or worse" in err
    assert invoke(*args, "--fail-on-findings", "--fail-on", "low")[0] == 3
    # The threshold alone does not fail a run.
    assert invoke(*args, "--fail-on", "low")[0] == 0


def test_fail_on_findings_from_the_environment(store: Path, iam_without_high: str,
                                               tmp_path: Path) -> None:
    args = store_args(store, tmp_path / "out")
    on = {"RIGHTSIZER_RUN_FAIL_ON_FINDINGS": "true"}
    code, _, err = invoke(*args, env=on)
    assert code == 3 and "findings at high or worse" in err
    assert invoke(*args, "--no-fail-on-findings", env=on)[0] == 0
    assert invoke(*args, env={"RIGHTSIZER_RUN_FAIL_ON_FINDINGS": "false"})[0] == 0

    relaxed = ("run", "--iam", iam_without_high, *args[3:])
    assert invoke(*relaxed, env=on)[0] == 0
    code, _, err = invoke(*relaxed, env={**on, "RIGHTSIZER_FINDINGS_FAIL_ON": "medium"})
    assert code == 3 and "findings at medium or worse" in err
    code, _, err = invoke(*args, env={"RIGHTSIZER_RUN_FAIL_ON_FINDINGS": "maybe"})
    assert code == 2 and "RIGHTSIZER_RUN_FAIL_ON_FINDINGS" in err


@pytest.mark.parametrize("asked", [("--log-format", "json"), ()], ids=["flag", "env"])
def test_a_settings_error_is_a_json_line_when_json_logs_are_asked_for(
        asked: tuple[str, ...], tmp_path: Path) -> None:
    env = {"RIGHTSIZER_WINDOW_DAYS": "abc"}
    if not asked:
        env["RIGHTSIZER_LOGGING_FORMAT"] = "json"
    proc = cli("run", "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "s.duckdb"),
               "--out", str(tmp_path / "out"), *asked, env=env)
    assert proc.returncode == 2
    (entry,) = json_lines(proc.stderr)
    assert entry["level"] == "error" and entry["exit_code"] == 2
    assert "RIGHTSIZER_WINDOW_DAYS" in entry["message"] and "'abc'" in entry["message"]


def test_json_names_the_runs_that_keep_removed(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (*store_args(store, out), "--dated", "--keep", "1", "--json")
    code, printed, err = invoke(*args)
    assert code == 0, err
    first = json.loads(printed)
    assert first["removed_runs"] == [] and first["latest"] == str(out / "latest")
    code, printed, err = invoke(*args)
    assert code == 0, err
    second = json.loads(printed)
    assert second["removed_runs"] == [first["out"]]
    assert dated_runs(out) == [Path(second["out"])]
