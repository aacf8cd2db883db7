"""The golden end-to-end run: ``rightsizer run`` on ``sample_logs/``, compared file by file with
the committed expected output in ``tests/golden/sample/``.

Regenerate after an intended change with ``.venv/bin/pytest tests/test_run_golden.py
--update-golden`` and review the diff like code: every changed line is a changed policy.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

import rightsizer
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy
from rightsizer.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "sample"
TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> rightsizer.RunResult:
    work = tmp_path_factory.mktemp("golden")
    with pytest.MonkeyPatch.context() as env:
        env.chdir(ROOT)  # relative source paths: the summary names them as given
        return rightsizer.run(
            logs=["sample_logs/cloudtrail"], iam="sample_logs/iam/authorization-details.json",
            ecs="sample_logs/ecs/task-definitions.json", out=work / "out",
            db=work / "sample.duckdb", trail_files=["sample_logs/trail/event-selectors.json"],
            settings=load_settings(None, env={}, flags={
                "sources.public_keys": "sample_logs/trail/public-keys.json"}),
            today=TODAY, workers=1)


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_matches_the_golden_files(sample_run: rightsizer.RunResult,
                                         request: pytest.FixtureRequest) -> None:
    produced = _files(sample_run.out)
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(sample_run.out, GOLDEN)
        pytest.skip("golden files rewritten")
    expected = _files(GOLDEN)
    assert sorted(produced) == sorted(expected)
    for name, text in expected.items():
        assert produced[name] == text, f"{name} differs from tests/golden/sample/{name}"


def test_every_proposal_passed_its_proof(sample_run: rightsizer.RunResult) -> None:
    summary = json.loads((sample_run.out / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["catalog_version"] and summary["window"]["start"] < summary["window"]["end"]
    proposed = [r for r in summary["roles"] if r["policy_path"]]
    assert len(summary["roles"]) == 11
    # notifier-task-legacy never ran in the window: no evidence, no proposal (ROLE_NOT_SEEN).
    assert len(proposed) == 10
    assert [r["name"] for r in summary["roles"] if not r["policy_path"]] == [
        "notifier-task-legacy"]
    for role in proposed:
        replay = role["replay"]
        assert replay["passed"] and replay["failed"] == 0
        assert replay["calls"] == replay["allowed"]
        # Never more than the role had, but for declared needs it used that something else
        # granted (DECLARED_NEED_GRANTED_ELSEWHERE); nothing unused survives.
        added = {a["action"] for a in role["added_declared"]}
        assert set(role["proposed_actions"]) <= set(role["granted_actions"]) | added
        assert not added & set(role["granted_actions"])
        assert not set(role["proposed_actions"]) & set(role["unused_actions"])


def test_the_shared_execution_role_keeps_what_ecs_needs(sample_run: rightsizer.RunResult
                                                        ) -> None:
    """PutLogEvents never reaches CloudTrail; the task definitions declare it."""
    folder = sample_run.out / "roles" / "ecsTaskExecutionRole"
    policy = parse_policy(json.loads((folder / "policy.json").read_text()), name="p")
    for group in ("orders-api", "payments-worker", "reports-batch"):
        # awslogs names streams PREFIX/CONTAINER/TASK_ID; each family's container is its name.
        stream = ("arn:aws:logs:us-east-1:883921282152:log-group:/ecs/"
                  f"{group}:log-stream:ecs/{group}/0123456789abcdef0123456789abcdef")
        assert evaluate(Request("logs:PutLogEvents", stream), [policy]).allowed, group
        other = stream.replace(f"ecs/{group}/", "ecs/intruder/")
        assert not evaluate(Request("logs:PutLogEvents", other), [policy]).allowed, group
    assert not evaluate(Request("kms:CreateKey"), [policy]).allowed  # kms:* is gone
    # awslogs-create-group on payments-worker only (case 5): 8 calls, granted by no policy of
    # the role, so the proposal adds it, and only on that group.
    group = "arn:aws:logs:us-east-1:883921282152:log-group:/ecs/"
    assert evaluate(Request("logs:CreateLogGroup", group + "payments-worker"), [policy]).allowed
    assert not evaluate(Request("logs:CreateLogGroup", group + "orders-api"), [policy]).allowed
    summary = json.loads((sample_run.out / "summary.json").read_text())
    role = next(r for r in summary["roles"] if r["name"] == "ecsTaskExecutionRole")
    assert "logs:PutLogEvents" in {k["action"] for k in role["kept_required"]}
    assert "kms:CreateKey" in role["unused_actions"]


def test_deterministic(sample_run: rightsizer.RunResult, tmp_path: Path) -> None:
    """Same inputs, byte-identical files (the store is already filled: no --logs)."""
    with pytest.MonkeyPatch.context() as env:
        env.chdir(ROOT)
        again = rightsizer.run(
            logs=[], iam="sample_logs/iam/authorization-details.json",
            ecs="sample_logs/ecs/task-definitions.json", out=tmp_path / "again",
            db=sample_run.out.parent / "sample.duckdb",
            trail_files=["sample_logs/trail/event-selectors.json"], today=TODAY)
    first, second = _files(sample_run.out), _files(again.out)
    # The second run reads no logs: "logs" and "ingest" differ, and the reports show them.
    for provenance in ("summary.json", "report.html", "report.md"):
        first.pop(provenance), second.pop(provenance)
    assert first == second


def test_dataframes_for_notebooks(sample_run: rightsizer.RunResult) -> None:
    verdicts = rightsizer.verdicts_frame(sample_run)
    summary = json.loads((sample_run.out / "summary.json").read_text())
    role = next(r for r in summary["roles"] if r["name"] == "orders-api-task")
    mine = verdicts[verdicts.role == "orders-api-task"]
    assert sorted(mine[mine.verdict == "used"].action) == role["used_actions"]
    assert sorted(mine[mine.verdict == "unused"].action) == role["unused_actions"]
    grants = rightsizer.grants_frame(sample_run)
    assert set(grants[grants.role == "orders-api-task"].action) == set(role["granted_actions"])
    proposals = rightsizer.proposals_frame(sample_run)
    allowed = {a for actions in proposals[(proposals.role == "orders-api-task")
                                          & (proposals.effect == "Allow")].actions
               for a in actions}
    assert allowed == set(role["proposed_actions"])
    db = sample_run.out.parent / "sample.duckdb"
    usage = rightsizer.usage_frame(db)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        (role_events,) = con.execute(
            "SELECT count(*) FROM events WHERE identity_type = 'AssumedRole' "
            "AND principal IS NOT NULL").fetchone()
    assert usage.calls.sum() == role_events > 0
    assert set(usage.error_class) <= {"ok", "denied", "error"}


def test_findings_replay_and_inventory_frames(sample_run: rightsizer.RunResult) -> None:
    findings = rightsizer.findings_frame(sample_run)
    summary = json.loads((sample_run.out / "summary.json").read_text())
    assert len(findings) == sum(len(r["findings"]) for r in summary["roles"])
    assert findings.iloc[0].severity == "critical"  # worst first
    replay = rightsizer.replay_frame(sample_run)
    assert len(replay) == 11 and replay.passed.all()
    orders = replay.set_index("role").loc["orders-api-task"]
    role = next(r for r in summary["roles"] if r["name"] == "orders-api-task")
    assert orders.calls == role["replay"]["calls"] == orders.allowed
    roles = rightsizer.inventory_frame(sample_run.inventory)
    assert len(roles) == 15 and roles.ecs.sum() == 11
    assert roles.set_index("role").loc["notifier-task-legacy"].worst == "high"


def test_a_fresh_task_id_inside_a_file_name_is_allowed_tomorrow(
        sample_run: rightsizer.RunResult) -> None:
    """Issue 11, case 3: reports-batch-task writes summary-<first 8 hex of its task id>.csv. The
    proposal used to name each file seen, so the next task's write was denied."""
    folder = sample_run.out / "roles" / "reports-batch-task"
    policy = parse_policy(json.loads((folder / "policy.json").read_text()), name="p")
    bucket = "arn:aws:s3:::acme-datalake-883921282152"
    summary = json.loads((sample_run.out / "summary.json").read_text())
    role = next(r for r in summary["roles"] if r["name"] == "reports-batch-task")
    puts = [g for g in role["generalized"] if g["action"] == "s3:PutObject"]
    assert puts, role["generalized"]
    (put,) = puts
    assert put["pattern"].endswith("/reports/daily/*/summary-*.csv")
    assert put["observed"] >= 2 and "hex id" in put["rule"]
    bucket = put["pattern"].split("/reports/")[0]
    for fresh in ("summary-0badc0de.csv", "summary-9f00e1a2.csv"):
        key = f"{bucket}/reports/daily/2026-11-29/{fresh}"
        assert evaluate(Request("s3:PutObject", key), [policy]).allowed, key
    # ... and only there: another folder or another file name is still refused.
    for other in ("reports/weekly/2026-11-29/summary-0badc0de.csv",
                  "reports/daily/2026-11-29/secrets-0badc0de.csv"):
        assert not evaluate(Request("s3:PutObject", f"{bucket}/{other}"), [policy]).allowed
    assert "## Generalized" in (folder / "diff.md").read_text()


def test_every_proposed_statement_grants_something_iam_can_authorize(
        sample_run: rightsizer.RunResult) -> None:
    """Case 7: no statement names a resource no resource type of its action can match (a table
    ARN for a stream action; anything but * for an action that takes no resource)."""
    from rightsizer.iam.catalog import catalog
    from rightsizer.iam.patterns import patterns_intersect

    checked = 0
    for result in sample_run.roles:
        for statement in result.proposal.statements if result.proposal else ():
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                info = catalog().action(action)
                assert info is not None, action
                types = [t.arn_pattern for t in catalog().resource_types_of(action)]
                for resource in statement.resources:
                    checked += 1
                    if info.takes_no_resource:
                        assert resource == "*", (result.role.name, action, resource)
                    else:
                        assert any(patterns_intersect(resource, t) for t in types), (
                            result.role.name, action, resource)
    assert checked > 50


def test_shipped_output_cites_public_pages_never_our_own_notes(
        sample_run: rightsizer.RunResult) -> None:
    for path in sample_run.out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".html", ".csv", ".tf", ".yaml"):
            assert "DOMAIN.md" not in path.read_text(encoding="utf-8"), path
