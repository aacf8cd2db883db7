"""``rightsizer explain`` on a simulated account with injected failures (issue 13): each failure
named with its cause, and a fix the evaluator confirms lets the failed call through and nothing
else; stopped tasks from files and live through moto; bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

import rightsizer
from rightsizer.analysis.inventory import build_inventory
from rightsizer.cli import main
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.trust import ECS_TASKS, service_trust
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.ecs import load_task_definitions
from rightsizer.sources.ecs_tasks import load_stopped_tasks
from rightsizer.sources.iam import load_authorization_details

BROKEN = {"broken-ecr": ("ecr:BatchGetImage", "MISSING_ALLOW"),
          "broken-trust": ("sts:AssumeRole", "TRUST_WRONG_PRINCIPAL"),
          "broken-kms": ("kms:Decrypt", "MISSING_ALLOW"),
          "broken-xacct": ("ecr:BatchGetImage", "REPOSITORY_POLICY")}


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    root = tmp_path_factory.mktemp("failing")
    result = rightsizer.simulate_account(root / "sim", events=1500, seed=7, failures=True,
                                         events_per_file=200, digest_hours=24)
    rightsizer.ingest([str(result.cloudtrail_dir)], root / "store.duckdb", workers=1)
    return result, root / "store.duckdb"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def explain_json(account: tuple[Any, Path], *extra: str) -> dict[str, Any]:
    result, db = account
    out = invoke("explain", "--db", str(db), "--iam", str(result.iam_path), "--ecs",
                 str(result.ecs_path), "--json", *extra)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_each_injected_failure_is_named_with_a_checked_fix(account: tuple[Any, Path]) -> None:
    result, _ = account
    failures = explain_json(account, "--tasks", str(result.stopped_tasks_path))["failures"]
    inventory = build_inventory(load_authorization_details(result.iam_path),
                                load_task_definitions(result.ecs_path))
    for family, (action, code) in BROKEN.items():
        [failure] = [f for f in failures if f["role"] == f"{family}-execution"
                     and f["action"] == action and f["source"] != "inventory"]
        assert failure["cause"]["code"] == code, family
        assert failure["count"] == 3 and failure["stopped_tasks"] == 3, family
        assert failure["source"] == "cloudtrail+stopped_task"
        assert failure["fix"]["verified"], family
        role = next(r for r in inventory.roles if r.name == f"{family}-execution")
        _check_fix(failure, role)


def _check_fix(failure: dict[str, Any], role: Any) -> None:
    """Independently of explain: the fix lets the refused call through, and nothing else."""
    fix = failure["fix"]
    statement = fix["statement"]
    if fix["where"] == "trust_policy":
        trust = parse_policy({"Version": "2012-10-17", "Statement": [statement]}, name="t",
                             kind="trust")
        assert service_trust(trust, ECS_TASKS).assumable and service_trust(
            trust, ECS_TASKS).source_condition
        assert statement["Principal"] == {"Service": ECS_TASKS}
        return
    if fix["where"] == "repository_policy":
        # Applied in the repository's account: it names this role, and only pulls.
        assert statement["Principal"] == {"AWS": role.arn}
        assert statement["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        assert fix["account"] != role.arn.split(":")[4]
        return
    added = parse_policy({"Version": "2012-10-17", "Statement": [statement]}, name="fix",
                         kind="inline")
    context = {}
    if "Condition" in statement:
        context = {"kms:ViaService": tuple(
            statement["Condition"]["StringEquals"]["kms:ViaService"])}
    request = Request(failure["action"], failure["resource"], context, context_complete=True)
    assert not evaluate(request, role.policies, boundary=role.boundary).allowed
    assert evaluate(request, [*role.policies, added], boundary=role.boundary).allowed
    # Nothing else: one action, on the refused resource or the declared pattern, no wildcard
    # beyond it; another resource of the same kind stays refused.
    assert statement["Action"] == failure["action"]
    assert statement["Resource"] != "*"
    other = Request(failure["action"], failure["resource"] + "-other", context,
                    context_complete=True)
    assert not evaluate(other, [*role.policies, added], boundary=role.boundary).allowed


def test_calls_nothing_declares_get_no_fix(account: tuple[Any, Path]) -> None:
    failures = explain_json(account)["failures"]
    unneeded = [f for f in failures if f["cause"]["code"] == "NOT_NEEDED"]
    assert {f["action"] for f in unneeded} >= {"ec2:DescribeInstances", "s3:DeleteObject"}
    assert all(f["fix"] is None and f["no_fix"] for f in unneeded)
    keys = {"role", "action", "resource", "region", "count", "first_seen", "last_seen", "cause",
            "denied_by", "fix"}
    assert all(keys <= set(f) for f in failures)


def test_without_failures_the_simulated_account_is_unchanged(tmp_path: Path) -> None:
    plain = rightsizer.simulate_account(tmp_path / "a", events=400, seed=3,
                                        events_per_file=100, digest_hours=24)
    broken = rightsizer.simulate_account(tmp_path / "b", events=400, seed=3, failures=True,
                                         events_per_file=100, digest_hours=24)
    assert plain.stopped_tasks_path is None and broken.stopped_tasks_path is not None
    families = [t["family"] for t in json.loads(broken.ecs_path.read_text())["taskDefinitions"]]
    assert set(families) - {t["family"] for t in json.loads(
        plain.ecs_path.read_text())["taskDefinitions"]} == set(BROKEN)
    plain_roles = json.loads(plain.iam_path.read_text())["RoleDetailList"]
    broken_roles = json.loads(broken.iam_path.read_text())["RoleDetailList"]
    assert [r for r in broken_roles if not r["RoleName"].startswith("broken-")] == plain_roles
    # 3 tries of: 3 records (ecr, xacct: AssumeRole, GetAuthorizationToken, BatchGetImage),
    # 4 (kms: and the refused Decrypt), 1 (trust: the refused AssumeRole).
    assert broken.distinct_events == plain.distinct_events + 3 * (3 + 3 + 4 + 1)


def test_text_output_says_cause_and_fix(account: tuple[Any, Path]) -> None:
    result, db = account
    out = invoke("explain", "--db", str(db), "--iam", str(result.iam_path), "--ecs",
                 str(result.ecs_path))
    assert out.exit_code == 0
    assert "broken-trust-execution: sts:AssumeRole" in out.stdout
    assert "cause: TRUST_WRONG_PRINCIPAL" in out.stdout
    assert "fix (checked): replace the trust policy's statement" in out.stdout


def test_a_bad_tasks_file_is_bad_input(account: tuple[Any, Path], tmp_path: Path) -> None:
    result, db = account
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:1:task/c/t"},
                                          "not a task"]}))
    out = invoke("explain", "--db", str(db), "--iam", str(result.iam_path), "--ecs",
                 str(result.ecs_path), "--tasks", str(path))
    assert out.exit_code == 4
    assert "no taskDefinitionArn" in out.stderr and "not a task" in out.stderr
    missing = invoke("explain", "--db", str(db), "--iam", str(result.iam_path), "--ecs",
                     str(result.ecs_path), "--tasks", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2  # a mistyped path: a usage error, named
    assert f"--tasks {tmp_path / 'nope.json'}: no such file or folder" in missing.stderr


def test_stopped_task_files_in_every_shape(tmp_path: Path) -> None:
    task = {"taskArn": "arn:aws:ecs:us-east-1:111122223333:task/c/a",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/x:1"}
    other = dict(task, taskArn=task["taskArn"][:-1] + "b")
    (tmp_path / "one.json").write_text(json.dumps({"tasks": [task], "failures": []}))
    (tmp_path / "list.json").write_text(json.dumps([{"tasks": [other]}, task]))
    loaded = load_stopped_tasks(tmp_path)
    assert [t["taskArn"] for t in loaded.tasks] == [task["taskArn"], other["taskArn"]]
    assert loaded.problems == ()


def test_stopped_tasks_live_through_moto(account: tuple[Any, Path], moto_server: str) -> None:
    # moto runs EC2-launched tasks; each stopped with a documented message.
    result, db = account
    ec2 = make_aws_client("ec2", AwsOptions(region="us-east-1", endpoint_url=moto_server))
    ecs = make_aws_client("ecs", AwsOptions(region="us-east-1", endpoint_url=moto_server))
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    ecs.create_cluster(clusterName="explain-live")
    identity = {"accountId": "123456789012", "instanceId": instance["InstanceId"],
                "region": "us-east-1", "availabilityZone": "us-east-1a"}
    ecs.register_container_instance(cluster="explain-live",
                                    instanceIdentityDocument=json.dumps(identity))
    arn = ecs.register_task_definition(family="live-broken", containerDefinitions=[
        {"name": "a", "image": "x", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    task = ecs.run_task(cluster="explain-live", taskDefinition=arn,
                        launchType="EC2")["tasks"][0]["taskArn"]
    reason = "CannotPullContainerError: dial tcp 10.0.0.1:443: i/o timeout"
    ecs.stop_task(cluster="explain-live", task=task, reason=reason)
    ecs_file = Path(str(db) + ".ecs.json")
    ecs_file.write_text(orjson.dumps({"taskDefinitions": [ecs.describe_task_definition(
        taskDefinition=arn)["taskDefinition"] | {"executionRoleArn": "live-exec"}]},
        default=str).decode())
    out = invoke("explain", "--db", str(db), "--iam", str(result.iam_path), "--ecs",
                 str(ecs_file), "--tasks", "aws", "--cluster", "explain-live", "--region",
                 "us-east-1", "--endpoint-url", moto_server, "--json")
    assert out.exit_code == 0, out.output
    # The reason matched its rule (no route to the registry): no IAM change helps, whatever the
    # role (named by the task definition only, so in the inventory without policies).
    [failure] = [f for f in json.loads(out.stdout)["failures"] if f["source"] == "stopped_task"]
    assert failure["cause"]["code"] == "ECR_NO_ROUTE"
    assert "no IAM change helps" in failure["no_fix"]
    assert failure["detail"] == reason and failure["stopped_tasks"] == 1
    assert failure["role"] == "live-exec" and failure["fix"] is None
