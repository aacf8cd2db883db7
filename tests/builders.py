"""Builders of IAM and ECS inputs for tests: roles, policies, task definitions, usage rows."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from rightsizer.analysis.evidence import Sufficiency
from rightsizer.sources.ecs import TaskDefinitions
from rightsizer.sources.iam import AuthorizationDetails, ManagedPolicyDetails, RoleDetails
from rightsizer.sources.locate import BadInput

ACCOUNT = "111122223333"
REGION = "us-east-1"
ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
EXECUTION_POLICY = ManagedPolicyDetails(
    arn=EXECUTION_POLICY_ARN, name="AmazonECSTaskExecutionRolePolicy", default_version_id="v1",
    aws_managed=True,
    document={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Resource": "*",
        "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                   "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream",
                   "logs:PutLogEvents"]}]},
)


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


def role(name: str, *, trust: Any = ECS_TRUST, inline: dict[str, Any] | None = None,
         attached: tuple[str, ...] = (), boundary: str | None = None,
         path: str = "/") -> RoleDetails:
    return RoleDetails(
        name=name, arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}", path=path, role_id=None,
        create_date=None, trust_policy=trust,
        inline_policies=tuple(sorted((inline or {}).items())),
        attached_policy_arns=attached, boundary_arn=boundary, tags=(), last_used=None)


def iam(*roles: RoleDetails, policies: tuple[ManagedPolicyDetails, ...] = (EXECUTION_POLICY,),
        problems: tuple[BadInput, ...] = ()) -> AuthorizationDetails:
    return AuthorizationDetails(
        roles=tuple(sorted(roles, key=lambda r: r.arn)),
        policies=MappingProxyType({p.arn: p for p in policies}), source="test", problems=problems)


def task_definition(family: str, *, execution: str | None = None, task: str | None = None,
                    revision: int = 1, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}",
        "family": family, "revision": revision, "status": "ACTIVE",
        "containerDefinitions": [{
            "name": "app", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{family}:1",
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/ecs/{family}", "awslogs-region": REGION,
                "awslogs-stream-prefix": "ecs"}},
            **extra,
        }],
    }
    if execution:
        doc["executionRoleArn"] = execution
    if task:
        doc["taskRoleArn"] = task
    return doc


def ecs(*docs: dict[str, Any], problems: tuple[BadInput, ...] = ()) -> TaskDefinitions:
    return TaskDefinitions(task_definitions=docs, source="test", problems=problems)


def arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


def sufficient_evidence() -> Sufficiency:
    """Evidence that suffices to judge a role: its region read over the whole window, the role
    seen on every day (for tests of what comes after the sufficiency check)."""
    return Sufficiency(sufficient=True, missing=(), not_seen=False, footprint=(),
                       active_days=30, window_days=30, sessions=10)
