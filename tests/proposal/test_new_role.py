"""new-role's design: only declared needs, scoped as declared; what is open is listed, not
granted; the trust is bound to the account's ECS; and the evaluator proves it (issue 13)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from builders import ACCOUNT, REGION, task_definition
from hypothesis import given
from hypothesis import strategies as st

from rightsizer.iam.ecs import parse_task_definition
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.trust import ecs_trust_policy
from rightsizer.proposal.model import ProposedStatement
from rightsizer.proposal.new_role import (
    NewRole,
    design_new_roles,
    parse_tags,
    prove_new_role,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs" / "ecs" / "task-definitions.json"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_ACCOUNT = "210987654321"


def design(*docs: dict[str, Any], **options: Any) -> dict[tuple[str, str], NewRole]:
    roles = design_new_roles([parse_task_definition(d) for d in docs], **options)
    return {(r.family, r.kind): r for r in roles}


def policies(role: NewRole) -> list[Any]:
    return [parse_policy(d.as_json(), name=d.name, kind="managed") for d in role.documents]


def allowed(role: NewRole, action: str, resource: str, **context: tuple[str, ...]) -> bool:
    request = Request(action, resource, context, context_complete=True)
    decision = evaluate(request, policies(role))
    return decision.allowed and not decision.conditional


def sample_roles(**options: Any) -> tuple[NewRole, ...]:
    docs = json.loads(SAMPLE.read_text())["taskDefinitions"]
    return design_new_roles([parse_task_definition(d) for d in docs], **options)


def test_execution_role_grants_exactly_the_declared_pulls_and_logs() -> None:
    role = design(task_definition("orders", execution=f"arn:aws:iam::{ACCOUNT}:role/orders-exec"))[
        ("orders", "execution")]
    assert role.role_name == "orders-exec" and role.path == "/"
    assert role.actions == ("ecr:BatchGetImage", "ecr:GetAuthorizationToken",
                            "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream",
                            "logs:PutLogEvents")
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/orders"
    assert allowed(role, "ecr:BatchGetImage", repo)
    assert not allowed(role, "ecr:BatchGetImage", repo + "-other")
    assert not allowed(role, "ecr:BatchCheckLayerAvailability", repo)  # push-time, not a pull
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/orders"
    assert allowed(role, "logs:CreateLogStream", f"{group}:log-stream:ecs/app/0a1b2c")
    assert not allowed(role, "logs:CreateLogStream", f"{group}:log-stream:other/app/0a1b2c")
    assert not allowed(role, "logs:CreateLogGroup", group)  # ECS is not asked to create it
    assert role.notes == () and role.resource_changes == ()


def test_create_group_is_granted_only_when_the_task_definition_asks() -> None:
    doc = task_definition("orders")
    doc["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-create-group"] = "true"
    role = design(doc)[("orders", "execution")]
    assert allowed(role, "logs:CreateLogGroup",
                   f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/orders")


def test_the_trust_is_bound_to_the_accounts_ecs() -> None:
    trust = ecs_trust_policy("aws", ACCOUNT, ["us-east-1", "eu-west-1", "us-east-1"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": [f"arn:aws:ecs:eu-west-1:{ACCOUNT}:*",
                                      f"arn:aws:ecs:us-east-1:{ACCOUNT}:*"]},
        "StringEquals": {"aws:SourceAccount": ACCOUNT}}
    policy = parse_policy(trust, name="trust", kind="trust")
    ecs_here = Request("sts:AssumeRole", "*", {
        "aws:SourceAccount": (ACCOUNT,),
        "aws:SourceArn": (f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/default/0a1b",)},
        context_complete=True)
    assert evaluate(ecs_here, [policy]).allowed
    elsewhere = replace(ecs_here, context={"aws:SourceAccount": (OTHER_ACCOUNT,),
                                           "aws:SourceArn": (f"arn:aws:ecs:us-east-1:"
                                                             f"{OTHER_ACCOUNT}:task/x/1",)})
    assert not evaluate(elsewhere, [policy]).allowed


def test_secrets_keys_are_undecided_without_a_key_and_scoped_with_one() -> None:
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders/db-AbC123"
    doc = task_definition("orders", secrets=[
        {"name": "DB", "valueFrom": f"{secret}:password::"},
        {"name": "HOST", "valueFrom": "orders/db-host"}])
    bare = design(doc)[("orders", "execution")]
    assert "kms:Decrypt" not in bare.actions
    assert [u.field for u in bare.undecided] == [
        "containerDefinitions[0].secrets[0].valueFrom",
        "containerDefinitions[0].secrets[1].valueFrom"]
    assert all("--kms-key" in u.reason for u in bare.undecided)
    assert allowed(bare, "secretsmanager:GetSecretValue", secret)
    assert allowed(bare, "ssm:GetParameters",
                   f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orders/db-host")

    keyed = design(doc, kms_keys=[KEY])[("orders", "execution")]
    assert keyed.undecided == ()
    through = {"kms:ViaService": (f"secretsmanager.{REGION}.amazonaws.com",)}
    assert allowed(keyed, "kms:Decrypt", KEY, **through)
    assert allowed(keyed, "kms:Decrypt", KEY,
                   **{"kms:ViaService": (f"ssm.{REGION}.amazonaws.com",)})
    assert not allowed(keyed, "kms:Decrypt", KEY,
                       **{"kms:ViaService": (f"s3.{REGION}.amazonaws.com",)})
    assert not allowed(keyed, "kms:Decrypt", KEY.replace("1234abcd", "99999999"), **through)


def test_a_key_of_another_region_decides_nothing() -> None:
    doc = task_definition("orders", secrets=[{"name": "DB", "valueFrom": "orders/db"}])
    role = design(doc, kms_keys=[KEY.replace(REGION, "eu-west-1")])[("orders", "execution")]
    assert "kms:Decrypt" not in role.actions
    assert len(role.undecided) == 1


@pytest.mark.parametrize("key", ["alias/orders", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/orders",
                                 "arn:aws:kms:us-east-1:1:key/x", "*"])
def test_a_key_must_be_a_key_arn(key: str) -> None:
    with pytest.raises(ValueError, match="not a KMS key ARN"):
        design(task_definition("orders"), kms_keys=[key])


def test_a_repository_of_another_account_needs_its_repository_policy() -> None:
    image = f"{OTHER_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shared/base:1"
    role = design(task_definition("orders", image=image))[("orders", "execution")]
    repo = f"arn:aws:ecr:{REGION}:{OTHER_ACCOUNT}:repository/shared/base"
    assert allowed(role, "ecr:BatchGetImage", repo)
    [change] = role.resource_changes
    assert change.account == OTHER_ACCOUNT and change.resource == repo
    assert change.statement["Principal"] == {"AWS": role.arn}
    assert change.statement["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def test_a_public_image_needs_no_registry_login() -> None:
    doc = task_definition("web", image="public.ecr.aws/nginx/nginx:1.27")
    role = design(doc)[("web", "execution")]
    assert not any(a.startswith("ecr:") for a in role.actions)
    assert not allowed(role, "ecr:GetAuthorizationToken", "*")
    assert prove_new_role(role) == ()


def test_task_role_only_where_the_task_definition_has_one_and_its_own_calls_are_undecided(
) -> None:
    without = design(task_definition("batch"))
    assert set(without) == {("batch", "execution")}
    with_role = design(task_definition("batch", task="batch-task"))[("batch", "task")]
    assert with_role.documents == ()  # nothing declared: no policy, never a guess
    assert [u.what for u in with_role.undecided] == ["the application's own AWS calls"]


def test_efs_and_firelens_needs_go_to_the_task_role() -> None:
    doc = task_definition("web", task="web-task", logConfiguration={
        "logDriver": "awsfirelens",
        "options": {"Name": "firehose", "region": REGION, "delivery_stream": "web-logs"}})
    doc["volumes"] = [{"name": "data", "efsVolumeConfiguration": {
        "fileSystemId": "fs-0123", "authorizationConfig": {"iam": "ENABLED"}}}]
    role = design(doc)[("web", "task")]
    assert allowed(role, "firehose:PutRecordBatch",
                   f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/web-logs")
    fs = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/fs-0123"
    assert allowed(role, "elasticfilesystem:ClientMount", fs)
    assert not allowed(role, "elasticfilesystem:ClientRootAccess", fs)
    assert any("ClientRootAccess" in u.what for u in role.undecided)


def test_a_role_shared_by_families_is_not_reused() -> None:
    shared = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
    roles = design(task_definition("a", execution=shared), task_definition("b", execution=shared))
    assert roles[("a", "execution")].role_name == "a-execution"
    assert "also the role of b" in roles[("a", "execution")].notes[0]


def test_a_role_path_is_kept_and_a_missing_role_is_named() -> None:
    roles = design(task_definition("a", task=f"arn:aws:iam::{ACCOUNT}:role/ecs/a-app"))
    assert (roles[("a", "task")].role_name, roles[("a", "task")].path) == ("a-app", "/ecs/")
    assert roles[("a", "task")].arn == f"arn:aws:iam::{ACCOUNT}:role/ecs/a-app"
    assert roles[("a", "execution")].role_name == "a-execution"
    assert "names no executionRoleArn" in roles[("a", "execution")].notes[0]


def test_a_long_family_still_gets_a_valid_role_name() -> None:
    family = "f" * 200
    roles = design(task_definition(family), task_definition("g" + family))
    names = [r.role_name for r in roles.values()]
    assert all(len(n) <= 64 for n in names) and len(set(names)) == 2


def test_the_newest_revision_is_the_one_designed() -> None:
    old = task_definition("orders", revision=1)
    new = task_definition("orders", revision=2, image=f"{ACCOUNT}.dkr.ecr.{REGION}."
                          "amazonaws.com/orders-v2:1")
    role = design(old, new)[("orders", "execution")]
    assert role.task_definitions == (new["taskDefinitionArn"],)
    assert allowed(role, "ecr:BatchGetImage",
                   f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/orders-v2")
    assert not allowed(role, "ecr:BatchGetImage",
                       f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/orders")


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="no task definition of family nope"):
        design(task_definition("orders"), families=["nope"])


@pytest.mark.parametrize(("pairs", "expected"), [
    (["Project=shop", "Owner=platform team", "Environment=prod"],
     (("Project", "shop"), ("Owner", "platform team"), ("Environment", "prod"))),
    (["CostCenter=", "a.b:c/d=e+f-g@h=x"], (("CostCenter", ""), ("a.b:c/d", "e+f-g@h=x"))),
])
def test_tags_that_iam_takes(pairs: list[str], expected: tuple[tuple[str, str], ...]) -> None:
    assert parse_tags(pairs) == expected


@pytest.mark.parametrize(("pairs", "message"), [
    (["Project"], "not KEY=VALUE"),
    (["=x"], "key must be 1 to 128"),
    ([f"{'k' * 129}=x"], "key must be 1 to 128"),
    ([f"k={'v' * 257}"], "value must be 0 to 256"),
    (["aws:created=x"], "AWS's own"),
    (["Project=a;rm -rf /"], "may hold only"),
    (["Project=a", "project=b"], "given twice"),
    ([f"k{i}=v" for i in range(51)], "at most 50"),
])
def test_tags_that_iam_refuses(pairs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tags(pairs)


def test_every_sample_family_gets_a_proven_execution_role() -> None:
    roles = sample_roles(kms_keys=[KEY])
    families = {r.family for r in roles}
    assert families == {"ingest-eu", "notifier", "orders-api", "payments-worker",
                        "reports-batch", "web-frontend"}
    assert {r.family for r in roles if r.kind == "execution"} == families
    for role in roles:
        assert prove_new_role(role) == (), role.family


@given(st.text("0123456789abcdef", min_size=32, max_size=32))
def test_every_need_is_allowed_for_any_fresh_task(task_id: str) -> None:
    for role in sample_roles(kms_keys=[KEY]):
        assert prove_new_role(role, fresh_task=task_id) == ()


def test_the_proof_catches_a_widened_policy() -> None:
    role = next(r for r in sample_roles() if r.kind == "execution")
    wide = ProposedStatement(sid="Wide", actions=("ecr:BatchGetImage",), resources=("*",))
    widened = replace(role, documents=(replace(role.documents[0], statements=(
        *role.documents[0].statements, wide)),))
    assert any("ecr:BatchGetImage" in f and "allowed" in f for f in prove_new_role(widened))


def test_the_proof_catches_a_missing_grant() -> None:
    role = next(r for r in sample_roles() if r.kind == "execution")
    narrowed = replace(role, documents=(replace(role.documents[0], statements=tuple(
        s for s in role.documents[0].statements if "logs:PutLogEvents" not in s.actions)),))
    assert any(f.startswith("logs:PutLogEvents") for f in prove_new_role(narrowed))
