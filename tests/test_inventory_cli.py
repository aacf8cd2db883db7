"""``rightsizer inventory`` end to end: files shaped like the AWS CLI's output, the sample account
with its ingested CloudTrail, and live IAM and ECS through moto's server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from helpers import enter_fresh_account

import rightsizer
from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
AWS_CLI = Path(__file__).parent / "data" / "aws_cli"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("inventory") / "sample.duckdb"
    summary = rightsizer.ingest([str(SAMPLE / "cloudtrail")], db, workers=1)
    assert summary.ok and summary.events_ingested > 0
    return db


def roles_by_name(out: str) -> dict[str, dict[str, Any]]:
    return {role["name"]: role for role in orjson.loads(out)["roles"]}


def test_sample_account(sample_db: Path) -> None:
    code, out, err = invoke("inventory", "--iam", str(SAMPLE / "iam/authorization-details.json"),
                            "--ecs", str(SAMPLE / "ecs/task-definitions.json"),
                            "--db", str(sample_db), "--json")
    assert code == 0, err
    roles = roles_by_name(out)
    ecs = {name for name, role in roles.items() if role["ecs"]}
    assert ecs == {
        "ecsTaskExecutionRole", "orders-api-task", "payments-worker-task", "reports-batch-task",
        "web-frontend-execution", "web-frontend-task", "ingest-eu-execution", "ingest-eu-task",
        "notifier-execution", "notifier-task", "notifier-task-legacy"}
    # Listed, never rightsized: an SSO admin role, an EC2 instance role, a Lambda role, and ECS's
    # service-linked role (ecs.amazonaws.com is not ecs-tasks.amazonaws.com).
    for name in ("bastion-ssm-role", "thumbnailer-role-l5tr1f4s", "AWSServiceRoleForECS"):
        assert roles[name]["ecs"] is False and roles[name]["findings"] == []
    shared = roles["ecsTaskExecutionRole"]
    assert shared["kinds"] == ["execution"]
    families = {arn.rsplit("/", 1)[1].split(":")[0] for arn in shared["task_definitions"]}
    assert families == {"orders-api", "payments-worker", "reports-batch"}
    assert {f["code"] for f in shared["findings"]} >= {"EXECUTION_ROLE_SHARED"}
    assert {f["code"] for f in roles["notifier-task-legacy"]["findings"]} == {
        "ECS_TRUST_UNUSABLE"}
    assert "ADMIN_LIKE_GRANT" in {f["code"] for f in roles["reports-batch-task"]["findings"]}
    # What the task definitions declare: the ECR pull on the service's own repository.
    needs = roles["web-frontend-execution"]["needs"]
    assert any(n["actions"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
               and n["resource"].endswith(":repository/web-frontend") for n in needs)
    # Every ECS role of the sample was seen being assumed in its CloudTrail but the legacy one,
    # which ECS cannot assume.
    assumed = {name for name in ecs if roles[name]["assumed_by_ecs"]}
    assert assumed == ecs - {"notifier-task-legacy"}
    assert roles["orders-api-task"]["assumed_by_ecs"]["sessions"] > 0


def test_human_output_names_roles_and_findings(sample_db: Path) -> None:
    code, out, _ = invoke("inventory", "--iam", str(SAMPLE / "iam/authorization-details.json"),
                          "--ecs", str(SAMPLE / "ecs/task-definitions.json"),
                          "--db", str(sample_db))
    assert code == 0
    assert "15 roles, 11 ECS principals, 8 task definitions" in out
    assert "ECS_TRUST_UNUSABLE" in out and "notifier-task-legacy" in out


def test_without_a_store_the_other_evidence_still_counts(tmp_path: Path) -> None:
    code, out, _ = invoke("inventory", "--iam", str(SAMPLE / "iam/authorization-details.json"),
                          "--ecs", str(SAMPLE / "ecs/task-definitions.json"),
                          "--db", str(tmp_path / "none.duckdb"), "--json")
    assert code == 0
    roles = roles_by_name(out)
    assert roles["orders-api-task"]["ecs"] and roles["orders-api-task"]["assumed_by_ecs"] is None
    assert not (tmp_path / "none.duckdb").exists()  # reading never creates a store


def test_bad_entries_exit_4_and_the_rest_is_listed(tmp_path: Path) -> None:
    code, out, err = invoke("inventory",
                            "--iam", str(AWS_CLI / "iam-authorization-details-broken.json"),
                            "--ecs", str(AWS_CLI / "ecs-task-definitions.json"),
                            "--db", str(tmp_path / "x.duckdb"), "--json")
    assert code == 4
    data = orjson.loads(out)
    assert data["roles"] and data["problems"]
    for problem in data["problems"]:
        assert problem["input"] in err and problem["reason"] in err


@pytest.mark.parametrize("flag", ["--iam", "--ecs"])
def test_missing_file_exits_2_naming_it(tmp_path: Path, flag: str) -> None:
    files = {"--iam": str(SAMPLE / "iam/authorization-details.json"),
             "--ecs": str(SAMPLE / "ecs/task-definitions.json")}
    files[flag] = str(tmp_path / "missing.json")
    code, out, err = invoke("inventory", "--iam", files["--iam"], "--ecs", files["--ecs"],
                            "--db", str(tmp_path / "x.duckdb"))
    assert code == 2 and out == ""  # a mistyped path is a usage error (issue 14)
    assert f"{flag} {tmp_path / 'missing.json'}: no such file or folder" in err


def test_unreadable_policy_document_is_a_problem(tmp_path: Path) -> None:
    details = json.loads((SAMPLE / "iam/authorization-details.json").read_text())
    victim = next(r for r in details["RoleDetailList"] if r["RoleName"] == "orders-api-task")
    victim["RolePolicyList"][0]["PolicyDocument"] = {"Version": "2012-10-17"}  # no Statement
    path = tmp_path / "details.json"
    path.write_text(json.dumps(details))
    code, out, err = invoke("inventory", "--iam", str(path),
                            "--ecs", str(SAMPLE / "ecs/task-definitions.json"),
                            "--db", str(tmp_path / "x.duckdb"), "--json")
    assert code == 4
    roles = roles_by_name(out)
    assert "POLICY_UNREADABLE" in {f["code"] for f in roles["orders-api-task"]["findings"]}
    assert "orders-app" in err and "Statement" in err
    assert len(roles) == 15  # everything else is still there


# -- live, through moto's server --------------------------------------------------------------

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def live_account(moto_server: str) -> Iterator[str]:
    """A fresh moto account with an execution role, two task roles and three task definitions."""
    from rightsizer.sources.aws import AwsOptions, make_aws_client

    options = AwsOptions(endpoint_url=moto_server, region="eu-west-1")
    with pytest.MonkeyPatch.context() as env:
        account = enter_fresh_account(moto_server, env)
        iam = make_aws_client("iam", options)
        ecs = make_aws_client("ecs", options)
        iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(RoleName="exec", PolicyName="extra", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ecr:*", "dynamodb:PutItem"], "Resource": "*"}]}))
        iam.create_role(RoleName="app", Path="/ecs/", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.create_role(RoleName="legacy", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        for family, task in (("api", "app"), ("worker", "legacy")):
            ecs.register_task_definition(
                family=family,
                executionRoleArn=f"arn:aws:iam::{account}:role/exec",
                taskRoleArn=task,  # a bare name, as task definitions may hold
                containerDefinitions=[{
                    "name": "main", "memory": 256,
                    "image": f"{account}.dkr.ecr.eu-west-1.amazonaws.com/{family}:1"}])
        ecs.register_task_definition(family="api", executionRoleArn="exec",
                                     containerDefinitions=[{"name": "main", "memory": 256,
                                                            "image": "nginx:1"}])
        ecs.deregister_task_definition(taskDefinition="api:1")
        yield account


def test_live_account(live_account: str, moto_server: str, tmp_path: Path) -> None:
    code, out, err = invoke("inventory", "--iam", "aws", "--ecs", "aws",
                            "--endpoint-url", moto_server, "--region", "eu-west-1",
                            "--db", str(tmp_path / "x.duckdb"), "--json")
    assert code == 0, err
    roles = roles_by_name(out)
    # The fresh account also holds the role the tests assumed to enter it; it trusts no service.
    assert {n for n, r in roles.items() if r["ecs"]} == {"exec", "app", "legacy"}
    execution = roles["exec"]
    assert execution["kinds"] == ["execution"]
    # Both revisions of api (one INACTIVE) and worker's.
    assert len(execution["task_definitions"]) == 3
    assert {f["code"] for f in execution["findings"]} == {
        "EXECUTION_ROLE_SHARED", "EXECUTION_ROLE_APP_PERMISSIONS",
        "ECS_TRUST_NO_SOURCE_CONDITION"}
    assert roles["app"]["arn"] == f"arn:aws:iam::{live_account}:role/ecs/app"
    assert roles["app"]["kinds"] == ["task"]
    assert "ECS_TRUST_UNUSABLE" in {f["code"] for f in roles["legacy"]["findings"]}
