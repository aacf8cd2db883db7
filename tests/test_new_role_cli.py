"""``rightsizer new-role`` through its runner and the library (issue 13): the contract's folders
and JSON, task definitions not registered yet, live ECS through moto, bad input, and what
``rightsizer run`` says of a new role once it has a history."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rightsizer
from rightsizer.cli import main
from rightsizer.pipeline.new_role import FILES
from rightsizer.sources.aws import AwsOptions, make_aws_client

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ECS = ROOT / "sample_logs" / "ecs" / "task-definitions.json"
SAMPLE_FAMILIES = ["ingest-eu", "notifier", "orders-api", "payments-worker", "reports-batch",
                   "web-frontend"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def unregistered(family: str = "checkout") -> dict[str, Any]:
    """``aws ecs register-task-definition --cli-input-json`` input: no ARN, no revision."""
    return {
        "family": family,
        "executionRoleArn": f"{family}-execution",
        "containerDefinitions": [{
            "name": "app", "memory": 512,
            "image": f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{family}:1",
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/ecs/{family}", "awslogs-region": "eu-central-1",
                "awslogs-stream-prefix": "ecs"}}}],
    }


def test_json_lists_every_role_with_the_contracts_keys(tmp_path: Path) -> None:
    result = invoke("new-role", "--ecs", str(SAMPLE_ECS), "--out", str(tmp_path / "out"),
                    "--tag", "Project=shop", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    roles = data["roles"]
    assert sorted({r["family"] for r in roles}) == SAMPLE_FAMILIES
    for role in roles:
        assert {"family", "kind", "path", "undecided"} <= set(role)
        assert role["kind"] in ("execution", "task")
        folder = Path(role["path"])
        assert folder == tmp_path / "out" / role["family"] / role["kind"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
        assert all({"what", "reason"} <= set(u) for u in role["undecided"])
        assert role["tags"] == {"Project": "shop"}
    task_roles = [r for r in roles if r["kind"] == "task"]
    assert task_roles and all(
        any(u["what"] == "the application's own AWS calls" for u in r["undecided"])
        for r in task_roles)


def test_one_family_and_text_output(tmp_path: Path) -> None:
    result = invoke("new-role", "--ecs", str(SAMPLE_ECS), "--out", str(tmp_path),
                    "--family", "orders-api")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders-api"]
    assert "orders-api execution: orders-api-execution" in result.stdout
    assert "undecided: kms:Decrypt" in result.stdout  # no --kms-key: the keys stay open


def test_nothing_else_in_the_output_folder_is_touched(tmp_path: Path) -> None:
    keep = tmp_path / "orders-api" / "execution" / "notes.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("mine")
    (tmp_path / "README").write_text("mine too")
    assert invoke("new-role", "--ecs", str(SAMPLE_ECS), "--out", str(tmp_path)).exit_code == 0
    assert keep.read_text() == "mine" and (tmp_path / "README").read_text() == "mine too"


def test_an_unregistered_task_definition_needs_its_account_and_region(tmp_path: Path) -> None:
    path = tmp_path / "checkout.json"
    path.write_text(json.dumps(unregistered()))
    refused = invoke("new-role", "--ecs", str(path), "--out", str(tmp_path / "out"))
    assert refused.exit_code == 4
    assert "not registered yet" in refused.stderr and str(path) in refused.stderr

    result = invoke("new-role", "--ecs", str(path), "--out", str(tmp_path / "out"),
                    "--account", "123456789012", "--region", "eu-central-1", "--json")
    assert result.exit_code == 0, result.output
    [role] = json.loads(result.stdout)["roles"]
    assert role["role_arn"] == "arn:aws:iam::123456789012:role/checkout-execution"
    trust = json.loads((Path(role["path"]) / "trust.json").read_text())
    condition = trust["Statement"][0]["Condition"]
    assert condition["ArnLike"]["aws:SourceArn"] == "arn:aws:ecs:eu-central-1:123456789012:*"
    assert condition["StringEquals"]["aws:SourceAccount"] == "123456789012"


@pytest.mark.parametrize(("args", "message"), [
    (["--tag", "Project"], "not KEY=VALUE"),
    (["--kms-key", "alias/x"], "not a KMS key ARN"),
    (["--family", "nope"], "no task definition of family nope"),
    (["--account", "12", "--region", "us-east-1"], "not a 12-digit AWS account id"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("new-role", "--ecs", str(SAMPLE_ECS), "--out", str(tmp_path), *args)
    assert result.exit_code == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_hostile_family_is_bad_input_and_writes_nothing_outside(tmp_path: Path) -> None:
    docs = json.loads(SAMPLE_ECS.read_text())
    bad = dict(docs["taskDefinitions"][0], family="../../escaped")
    docs["taskDefinitions"].append(dict(bad, taskDefinitionArn=bad["taskDefinitionArn"]
                                        .replace("orders-api:1", "escaped:1")))
    path = tmp_path / "ecs.json"
    path.write_text(json.dumps(docs))
    out = tmp_path / "a" / "out"
    result = invoke("new-role", "--ecs", str(path), "--out", str(out))
    assert result.exit_code == 4
    assert "is not a task definition family" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == SAMPLE_FAMILIES  # the rest is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "ecs.json"]


def test_live_task_definitions_through_moto(tmp_path: Path, moto_server: str) -> None:
    ecs = make_aws_client("ecs", AwsOptions(region="eu-west-3", endpoint_url=moto_server))
    doc = unregistered("live-svc")
    ecs.register_task_definition(family=doc["family"], executionRoleArn=doc["executionRoleArn"],
                                 containerDefinitions=doc["containerDefinitions"])
    result = invoke("new-role", "--ecs", "aws", "--region", "eu-west-3", "--endpoint-url",
                    moto_server, "--family", "live-svc", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    [role] = json.loads(result.stdout)["roles"]
    assert role["task_definitions"] == [
        f"arn:aws:ecs:eu-west-3:{role['role_arn'].split(':')[4]}:task-definition/live-svc:1"]
    assert "ecr:BatchGetImage" in role["actions"]


def _with_new_policy(iam: dict[str, Any], role_name: str, document: dict[str, Any]
                     ) -> dict[str, Any]:
    for role in iam["RoleDetailList"]:
        if role["RoleName"] == role_name:
            role["RolePolicyList"] = [{"PolicyName": f"rightsizer-{role_name}",
                                       "PolicyDocument": document}]
            role["AttachedManagedPolicies"] = []
    return iam


def test_with_history_run_removes_nothing_the_service_used(tmp_path: Path) -> None:
    # The sample's web-frontend roles are used by that family only: give them what new-role
    # makes and replay the sample's history. rightsizer run must propose no removal of anything
    # used; the execution role's whole history must be within what new-role granted (its
    # needs are all declared); and no call is refused that the old grants did not refuse too
    # (the task role's two refused calls are the simulated app's probes, refused before).
    golden = json.loads((ROOT / "tests" / "golden" / "sample" / "summary.json").read_text())
    denied_before = {r["name"]: r["denied_actions"] for r in golden["roles"]}
    made = rightsizer.new_roles(SAMPLE_ECS, tmp_path / "new", families=["web-frontend"])
    iam = json.loads((ROOT / "sample_logs" / "iam" / "authorization-details.json").read_text())
    for role in made.roles:
        document = json.loads((tmp_path / "new" / role.family / role.kind / "policy.json")
                              .read_text())
        if document["Statement"]:
            iam = _with_new_policy(iam, role.role_name, document)
    (tmp_path / "iam.json").write_text(json.dumps(iam))
    shutil.copytree(ROOT / "sample_logs", tmp_path / "sample_logs")
    result = rightsizer.run(
        logs=[str(tmp_path / "sample_logs" / "cloudtrail")], iam=tmp_path / "iam.json",
        ecs=SAMPLE_ECS, out=tmp_path / "out", db=tmp_path / "db.duckdb",
        trail_files=[ROOT / "sample_logs" / "trail" / "event-selectors.json"],
        today=date(2026, 11, 28), workers=1)
    for role in made.roles:
        if not role.documents:
            continue
        outcome = next(r for r in result.roles if r.role.name == role.role_name)
        used = set(outcome.actions("used"))
        assert list(outcome.actions("denied_attempt")) == denied_before[role.role_name]
        if role.kind == "execution":
            assert used and used <= set(role.actions)
        if outcome.proposal is not None:
            removed = {change.action for change in outcome.proposal.removed}
            assert not removed & used
            assert set(outcome.proposed_actions) <= set(role.actions)
