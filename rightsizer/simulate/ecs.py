"""ECS task definitions as `aws ecs describe-task-definition` prints its `taskDefinition` object."""

from __future__ import annotations

import random
from typing import Any

from rightsizer.simulate.clock import cli_millis
from rightsizer.simulate.model import Account, Container, Revision, Service


def _container_json(c: Container, svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "image": c.image, "cpu": 0}
    if c.repository_credentials:
        out["repositoryCredentials"] = {"credentialsParameter": c.repository_credentials}
    out["portMappings"] = (
        [{"containerPort": c.port, "hostPort": c.port, "protocol": "tcp",
          "name": f"{c.name}-{c.port}-tcp", "appProtocol": "http"}]
        if c.port
        else []
    )  # fmt: skip
    out["essential"] = c.essential
    out["environment"] = [{"name": k, "value": v} for k, v in c.environment]
    if c.environment_files:
        out["environmentFiles"] = [{"value": arn, "type": "s3"} for arn in c.environment_files]
    out["mountPoints"] = []
    out["volumesFrom"] = []
    if c.secrets:
        out["secrets"] = [{"name": k, "valueFrom": v} for k, v in c.secrets]
    if c.log_driver == "awsfirelens":
        out["logConfiguration"] = {
            "logDriver": "awsfirelens",
            "options": {
                "Name": "cloudwatch_logs",
                "region": svc.region,
                "log_group_name": f"/ecs/{svc.family}/app",
                "log_stream_prefix": f"{c.name}/",
                "auto_create_group": "false",
            },
            "secretOptions": [],
        }
    elif c.log_group:
        options = {
            "awslogs-group": c.log_group,
            "awslogs-region": svc.region,
            "awslogs-stream-prefix": c.log_prefix,
        }
        if c.create_group:
            options["awslogs-create-group"] = "true"
        out["logConfiguration"] = {"logDriver": "awslogs", "options": options, "secretOptions": []}
    if c.firelens_config:
        out["user"] = "0"
        out["firelensConfiguration"] = {
            "type": "fluentbit",
            "options": {"config-file-type": "s3", "config-file-value": c.firelens_config},
        }
    out["systemControls"] = []
    return out


def _requires(rev: Revision) -> list[dict[str, str]]:
    names = {
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "com.amazonaws.ecs.capability.task-iam-role",
        "ecs.capability.task-eni",
        "ecs.capability.execution-role-awslogs",
    }
    for c in rev.containers:
        if c.log_group:
            names.add("com.amazonaws.ecs.capability.logging-driver.awslogs")
        if c.ecr_repo:
            names.update(
                ("com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull")
            )
        if any(":secretsmanager:" in v for _, v in c.secrets):
            names.add("ecs.capability.secrets.asm.environment-variables")
        if any(":secretsmanager:" not in v for _, v in c.secrets):
            names.add("ecs.capability.secrets.ssm.environment-variables")
        if c.repository_credentials:
            names.add("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager")
        if c.environment_files:
            names.add("ecs.capability.env-files.s3")
        if c.firelens_config:
            names.add("ecs.capability.firelens.fluentbit")
            names.add("ecs.capability.firelens.options.config.s3")
        if c.log_driver == "awsfirelens":
            names.add("com.amazonaws.ecs.capability.logging-driver.awsfirelens")
    return [{"name": n} for n in sorted(names)]


def task_definition(
    svc: Service, rev: Revision, account: Account, rng: random.Random
) -> dict[str, Any]:
    arn = f"arn:aws:ecs:{svc.region}:{account.account_id}:task-definition/{svc.family}:{rev.number}"
    out: dict[str, Any] = {
        "taskDefinitionArn": arn,
        "containerDefinitions": [_container_json(c, svc) for c in rev.containers],
        "family": svc.family,
        "taskRoleArn": rev.task_role_ref,
        "executionRoleArn": rev.execution_role_ref,
        "networkMode": "awsvpc",
        "revision": rev.number,
        "volumes": [],
        "status": rev.status,
        "requiresAttributes": _requires(rev),
        "placementConstraints": [],
        "compatibilities": ["EC2", "FARGATE"],
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "requiresCompatibilities": ["FARGATE"],
        "cpu": rev.cpu,
        "memory": rev.memory,
        "registeredAt": cli_millis(rev.registered, rng.randrange(1000)),
    }
    if rev.deregistered is not None:
        out["deregisteredAt"] = cli_millis(rev.deregistered, rng.randrange(1000))
    out["registeredBy"] = account.ci_user.arn
    return out


def task_definitions(account: Account, rng: random.Random) -> dict[str, Any]:
    """`{"taskDefinitions": [...]}`: every revision of every family, oldest first."""
    return {
        "taskDefinitions": [
            task_definition(svc, rev, account, rng)
            for svc in account.services
            for rev in svc.revisions
        ]
    }
