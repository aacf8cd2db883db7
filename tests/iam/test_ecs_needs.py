"""rightsizer.iam.ecs: what a task definition says its roles need (DOMAIN.md sections 1 and 6)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rightsizer.iam.catalog import catalog
from rightsizer.iam.ecs import Need, parse_ecr_image, parse_task_definition, role_arn
from rightsizer.iam.patterns import matches

SAMPLE = Path(__file__).parent.parent.parent / "sample_logs" / "ecs" / "task-definitions.json"
ACCT = "111122223333"
REGION = "us-east-1"
TD_ARN = f"arn:aws:ecs:{REGION}:{ACCT}:task-definition/app:7"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def task_definition(*containers: dict[str, Any], arn: str = TD_ARN, **extra: Any) -> dict[str, Any]:
    return {
        "taskDefinitionArn": arn,
        "family": arn.rsplit("/", 1)[1].split(":")[0],
        "revision": int(arn.rsplit(":", 1)[1]),
        "status": "ACTIVE",
        "executionRoleArn": f"arn:aws:iam::{ACCT}:role/exec",
        "taskRoleArn": f"arn:aws:iam::{ACCT}:role/ecs/app-task",
        "containerDefinitions": list(containers) or [{"name": "app", "image": "nginx"}],
        **extra,
    }


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.27", **fields}


def needs_of(*containers: dict[str, Any], **extra: Any) -> list[tuple[tuple[str, ...], str]]:
    """(actions, resource) of each need, in the order parse_task_definition gives them."""
    parsed = parse_task_definition(task_definition(*containers, **extra))
    return [(n.actions, n.resource) for n in parsed.needs]


# --- images ------------------------------------------------------------------------------------

ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
LOGIN = (("ecr:GetAuthorizationToken",), "*")


@pytest.mark.parametrize(
    ("image", "repository_arn"),
    [
        (
            f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/orders:1.2.3",
            f"arn:aws:ecr:us-east-1:{ACCT}:repository/orders",
        ),
        (
            f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/team/orders@{DIGEST}",
            f"arn:aws:ecr:us-east-1:{ACCT}:repository/team/orders",
        ),
        (
            f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/orders:1.2@{DIGEST}",
            f"arn:aws:ecr:us-east-1:{ACCT}:repository/orders",
        ),
        (
            f"{ACCT}.dkr.ecr.eu-west-1.amazonaws.com/orders",  # no tag: latest
            f"arn:aws:ecr:eu-west-1:{ACCT}:repository/orders",
        ),
        (
            "444455556666.dkr.ecr.us-east-1.amazonaws.com/shared/base:2",  # another account's
            "arn:aws:ecr:us-east-1:444455556666:repository/shared/base",
        ),
        (
            f"{ACCT}.dkr.ecr.cn-north-1.amazonaws.com.cn/orders:1",
            f"arn:aws-cn:ecr:cn-north-1:{ACCT}:repository/orders",
        ),
        (
            f"{ACCT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com/orders:1",
            f"arn:aws-us-gov:ecr:us-gov-west-1:{ACCT}:repository/orders",
        ),
        (
            f"{ACCT}.dkr-ecr.eu-west-1.on.aws/orders:1",  # dual-stack endpoint
            f"arn:aws:ecr:eu-west-1:{ACCT}:repository/orders",
        ),
        (
            f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/nginx:latest",
            f"arn:aws:ecr:us-east-1:{ACCT}:repository/docker-hub/library/nginx",
        ),
    ],
)
def test_ecr_image_needs_pull_and_login(image: str, repository_arn: str) -> None:
    parsed = parse_task_definition(task_definition(app(image=image)))
    assert [(n.actions, n.resource) for n in parsed.needs] == [(ECR_PULL, repository_arn), LOGIN]
    for need in parsed.needs:
        assert need.kind == "execution"
        assert need.field == "containerDefinitions[0].image"
        assert need.reason.startswith(f"image {image} in container app")
        assert need.resource_known
    # Push-time, never needed to pull (DOMAIN.md line 42).
    assert all("ecr:BatchCheckLayerAvailability" not in n.actions for n in parsed.needs)


def test_ecr_image_parts() -> None:
    image = parse_ecr_image(f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/team/orders:1.2@{DIGEST}")
    assert image is not None
    assert (image.account, image.region, image.partition) == (ACCT, "us-east-1", "aws")
    assert (image.repository, image.tag, image.digest) == ("team/orders", "1.2", DIGEST)


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:1.27",
        "docker.io/library/nginx:latest",
        "public.ecr.aws/nginx/nginx:1.27",
        "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
        "ghcr.io/acme/app:1",
        "registry.example.com:5000/app:1",
        f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:1",
        f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com",
    ],
)
def test_other_registries_need_nothing(image: str) -> None:
    assert parse_ecr_image(image) is None
    assert needs_of(app(image=image)) == []


def test_ecr_actions_and_resources_are_ones_iam_knows() -> None:
    # The resource templates of the Service Authorization Reference accept what is derived.
    needs = parse_task_definition(
        task_definition(app(image=f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/orders:1"))
    ).needs
    pull = needs[0]
    for action in pull.actions:
        assert catalog().knows(action)
        (resource_type,) = catalog().resource_types_of(action)
        assert matches(resource_type.arn_pattern, pull.resource, ignore_case=False)
    assert catalog().action("ecr:GetAuthorizationToken").takes_no_resource


# --- awslogs -----------------------------------------------------------------------------------

GROUP = f"arn:aws:logs:{REGION}:{ACCT}:log-group:/ecs/app"
STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"awslogs-group": "/ecs/app", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"},
            [(STREAM_ACTIONS, f"{GROUP}:log-stream:ecs/app/*")],
        ),
        (
            {"awslogs-group": "/ecs/app", "awslogs-region": REGION},
            [(STREAM_ACTIONS, f"{GROUP}:log-stream:*")],
        ),
        (
            {"awslogs-group": "/ecs/app", "awslogs-create-group": "true"},  # region: the task's
            [(STREAM_ACTIONS, f"{GROUP}:log-stream:*"), (("logs:CreateLogGroup",), GROUP)],
        ),
        (
            {"awslogs-group": "/ecs/app", "awslogs-create-group": "false"},
            [(STREAM_ACTIONS, f"{GROUP}:log-stream:*")],
        ),
        (
            {
                "awslogs-group": "/ecs/app",
                "awslogs-region": "eu-west-1",
                "awslogs-stream-prefix": "web",
                "awslogs-create-group": "true",
            },
            [
                (
                    STREAM_ACTIONS,
                    f"arn:aws:logs:eu-west-1:{ACCT}:log-group:/ecs/app:log-stream:web/app/*",
                ),
                (("logs:CreateLogGroup",), f"arn:aws:logs:eu-west-1:{ACCT}:log-group:/ecs/app"),
            ],
        ),
    ],
)
def test_awslogs(options: dict[str, str], expected: list[tuple[tuple[str, ...], str]]) -> None:
    config = {"logDriver": "awslogs", "options": options, "secretOptions": []}
    parsed = parse_task_definition(task_definition(app(logConfiguration=config)))
    assert sorted((n.actions, n.resource) for n in parsed.needs) == sorted(expected)
    field = "containerDefinitions[0].logConfiguration.options"
    by_action = {n.actions[0]: n for n in parsed.needs}
    streams = by_action["logs:CreateLogStream"]
    assert streams.field == f"{field}.awslogs-group"
    assert streams.reason == "awslogs log group /ecs/app in container app"
    if "logs:CreateLogGroup" in by_action:
        assert by_action["logs:CreateLogGroup"].field == f"{field}.awslogs-create-group"


def test_awslogs_resources_match_the_log_stream_and_group_templates() -> None:
    config = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/app", "awslogs-create-group": "true"},
    }
    for need in parse_task_definition(task_definition(app(logConfiguration=config))).needs:
        for action in need.actions:
            templates = [t.arn_pattern for t in catalog().resource_types_of(action)]
            assert any(matches(t, need.resource, ignore_case=False) for t in templates), action


def test_awsfirelens_and_other_drivers_declare_no_execution_need() -> None:
    firelens = {
        "logDriver": "awsfirelens",
        "options": {"Name": "cloudwatch_logs", "region": REGION, "log_group_name": "/ecs/app"},
    }
    splunk = {"logDriver": "splunk", "options": {"splunk-url": "https://splunk.example.com"}}
    # FireLens's output is the task role's need (test_ecs_task_needs.py), never the execution's.
    for config in (firelens, splunk):
        parsed = parse_task_definition(task_definition(app(logConfiguration=config)))
        assert not [n for n in parsed.needs if n.kind == "execution"]


def test_awslogs_without_a_group_is_a_wrong_shape() -> None:
    config = {"logDriver": "awslogs", "options": {"awslogs-region": REGION}}
    with pytest.raises(ValueError, match=r"logConfiguration\.options\.awslogs-group is missing"):
        parse_task_definition(task_definition(app(logConfiguration=config)))


# --- secrets -----------------------------------------------------------------------------------

SM = f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret"
SSM = f"arn:aws:ssm:{REGION}:{ACCT}:parameter"


@pytest.mark.parametrize(
    ("value_from", "action", "resource"),
    [
        (f"{SM}:orders/db-AbCdEf", "secretsmanager:GetSecretValue", f"{SM}:orders/db-AbCdEf"),
        (
            f"{SM}:orders/db-AbCdEf:password::",
            "secretsmanager:GetSecretValue",
            f"{SM}:orders/db-AbCdEf",
        ),
        (
            f"{SM}:orders/db-AbCdEf:password:AWSPREVIOUS:",
            "secretsmanager:GetSecretValue",
            f"{SM}:orders/db-AbCdEf",
        ),
        (
            f"{SM}:orders/db-AbCdEf::AWSCURRENT:5b4e1f2a-0c1d-4e5f-8a9b-0c1d2e3f4a5b",
            "secretsmanager:GetSecretValue",
            f"{SM}:orders/db-AbCdEf",
        ),
        # A partial ARN: the random suffix matched the way Secrets Manager advises.
        (f"{SM}:orders/db", "secretsmanager:GetSecretValue", f"{SM}:orders/db-??????"),
        (
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:shared-QwErTy",
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:shared-QwErTy",
        ),
        (f"{SSM}/orders/db-host", "ssm:GetParameters", f"{SSM}/orders/db-host"),
        (f"{SSM}/flags", "ssm:GetParameters", f"{SSM}/flags"),
        ("flags", "ssm:GetParameters", f"{SSM}/flags"),  # a bare name: the task's region
        ("/orders/db-host", "ssm:GetParameters", f"{SSM}/orders/db-host"),  # no leading slash
    ],
)
def test_secret_forms(value_from: str, action: str, resource: str) -> None:
    secret = {"name": "DB", "valueFrom": value_from}
    parsed = parse_task_definition(task_definition(app(secrets=[secret])))
    decrypt, fetch = parsed.needs  # same field: sorted by action, kms before the others
    assert (fetch.actions, fetch.resource, fetch.resource_known) == ((action,), resource, True)
    assert fetch.field == "containerDefinitions[0].secrets[0].valueFrom"
    assert fetch.reason == f"secret DB from {value_from} in container app"
    # The key is not in the task definition: kept, but marked unknown.
    assert (decrypt.actions, decrypt.resource, decrypt.resource_known) == (
        ("kms:Decrypt",),
        "*",
        False,
    )
    assert decrypt.field == fetch.field
    default_key = "aws/secretsmanager" if action.startswith("secretsmanager") else "aws/ssm"
    assert f"the default {default_key} key needs none" in decrypt.reason
    assert "customer managed key" in decrypt.reason


def test_bare_parameter_name_takes_the_partition_of_the_task() -> None:
    arn = f"arn:aws-cn:ecs:cn-north-1:{ACCT}:task-definition/app:1"
    secret = {"name": "DB", "valueFrom": "db"}
    assert needs_of(app(secrets=[secret]), arn=arn)[1] == (
        ("ssm:GetParameters",),
        f"arn:aws-cn:ssm:cn-north-1:{ACCT}:parameter/db",
    )


def test_log_driver_secret_options() -> None:
    config = {
        "logDriver": "splunk",
        "options": {"splunk-url": "https://splunk.example.com"},
        "secretOptions": [{"name": "splunk-token", "valueFrom": f"{SM}:splunk-ZxCvBn"}],
    }
    parsed = parse_task_definition(task_definition(app(logConfiguration=config)))
    assert [(n.actions, n.resource) for n in parsed.needs] == [
        (("kms:Decrypt",), "*"),
        (("secretsmanager:GetSecretValue",), f"{SM}:splunk-ZxCvBn"),
    ]
    field = "containerDefinitions[0].logConfiguration.secretOptions[0].valueFrom"
    assert {n.field for n in parsed.needs} == {field}
    assert parsed.needs[1].reason.startswith("log driver secret option splunk-token from")


@pytest.mark.parametrize(
    ("value_from", "message"),
    [
        (f"arn:aws:kms:{REGION}:{ACCT}:key/1234", "neither a Secrets Manager nor an SSM"),
        (f"arn:aws:secretsmanager:{REGION}:{ACCT}:rotation", "not a Secrets Manager secret ARN"),
        ("/", "is empty"),
    ],
)
def test_wrong_secret_references(value_from: str, message: str) -> None:
    secret = {"name": "DB", "valueFrom": value_from}
    with pytest.raises(ValueError, match=message):
        parse_task_definition(task_definition(app(secrets=[secret])))


# --- private registry credentials, environment files, FireLens ----------------------------------


@pytest.mark.parametrize(
    ("parameter", "resource"),
    [
        (f"{SM}:dockerhub-Xy12Zw", f"{SM}:dockerhub-Xy12Zw"),
        ("dockerhub", f"{SM}:dockerhub-??????"),  # a secret of the task's region, by name
    ],
)
def test_repository_credentials(parameter: str, resource: str) -> None:
    container = app(
        image="docker.io/acme/agent:3", repositoryCredentials={"credentialsParameter": parameter}
    )
    parsed = parse_task_definition(task_definition(container))
    assert [(n.actions, n.resource, n.resource_known) for n in parsed.needs] == [
        (("kms:Decrypt",), "*", False),
        (("secretsmanager:GetSecretValue",), resource, True),
    ]
    assert {n.field for n in parsed.needs} == {
        "containerDefinitions[0].repositoryCredentials.credentialsParameter"
    }
    assert parsed.needs[1].reason == (
        f"private registry credentials {parameter} for image docker.io/acme/agent:3 "
        "in container app"
    )


def test_environment_files() -> None:
    files = [
        {"value": "arn:aws:s3:::config-bucket/app/prod.env", "type": "s3"},
        {"value": "arn:aws:s3:::other-bucket/shared.env", "type": "s3"},
    ]
    parsed = parse_task_definition(task_definition(app(environmentFiles=files)))
    assert [(n.actions, n.resource, n.field) for n in parsed.needs] == [
        (
            ("s3:GetBucketLocation",),
            "arn:aws:s3:::config-bucket",
            "containerDefinitions[0].environmentFiles[0].value",
        ),
        (
            ("s3:GetObject",),
            "arn:aws:s3:::config-bucket/app/prod.env",
            "containerDefinitions[0].environmentFiles[0].value",
        ),
        (
            ("s3:GetBucketLocation",),
            "arn:aws:s3:::other-bucket",
            "containerDefinitions[0].environmentFiles[1].value",
        ),
        (
            ("s3:GetObject",),
            "arn:aws:s3:::other-bucket/shared.env",
            "containerDefinitions[0].environmentFiles[1].value",
        ),
    ]
    assert parsed.needs[0].reason == (
        "environment file arn:aws:s3:::config-bucket/app/prod.env in container app"
    )


@pytest.mark.parametrize(
    "value", ["s3://config-bucket/app.env", "arn:aws:s3:::config-bucket", "arn:aws:s3:::/x.env"]
)
def test_environment_file_that_is_not_an_s3_object_arn(value: str) -> None:
    container = app(environmentFiles=[{"value": value, "type": "s3"}])
    with pytest.raises(
        ValueError, match=r"environmentFiles\[0\]\.value .* is not an S3 object ARN"
    ):
        parse_task_definition(task_definition(container))


def test_firelens_config_file_in_s3() -> None:
    router = {
        "name": "log_router",
        "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
        "firelensConfiguration": {
            "type": "fluentbit",
            "options": {
                "config-file-type": "s3",
                "config-file-value": "arn:aws:s3:::config-bucket/fluent-bit/app.conf",
            },
        },
    }
    parsed = parse_task_definition(task_definition(router))
    assert [(n.kind, n.actions, n.resource) for n in parsed.needs] == [
        ("execution", ("s3:GetBucketLocation",), "arn:aws:s3:::config-bucket"),
        ("execution", ("s3:GetObject",), "arn:aws:s3:::config-bucket/fluent-bit/app.conf"),
    ]
    assert parsed.needs[0].field == (
        "containerDefinitions[0].firelensConfiguration.options.config-file-value"
    )
    assert parsed.needs[0].reason.startswith("FireLens config file arn:aws:s3:::config-bucket/")


def test_firelens_config_file_in_the_image_needs_nothing() -> None:
    router = {
        "name": "log_router",
        "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
        "firelensConfiguration": {
            "type": "fluentbit",
            "options": {"config-file-type": "file", "config-file-value": "/fluent-bit/my.conf"},
        },
    }
    assert needs_of(router) == []


# --- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "partition", "expected"),
    [
        (f"arn:aws:iam::{ACCT}:role/ecs/app-task", "aws", f"arn:aws:iam::{ACCT}:role/ecs/app-task"),
        ("app-task", "aws", f"arn:aws:iam::{ACCT}:role/app-task"),
        ("ecs/app-task", "aws", f"arn:aws:iam::{ACCT}:role/ecs/app-task"),
        ("/ecs/app-task", "aws", f"arn:aws:iam::{ACCT}:role/ecs/app-task"),
        ("app-task", "aws-cn", f"arn:aws-cn:iam::{ACCT}:role/app-task"),
    ],
)
def test_role_arn(value: str, partition: str, expected: str) -> None:
    assert role_arn(value, account=ACCT, partition=partition) == expected


def test_role_arn_needs_an_account_for_a_name() -> None:
    with pytest.raises(ValueError, match="without an account"):
        role_arn("app-task", account=None)
    assert role_arn(f"arn:aws:iam::{ACCT}:role/x", account=None) == f"arn:aws:iam::{ACCT}:role/x"
    with pytest.raises(ValueError, match="empty"):
        role_arn("  ", account=ACCT)


def test_bare_role_names_in_a_task_definition() -> None:
    arn = f"arn:aws-us-gov:ecs:us-gov-west-1:{ACCT}:task-definition/app:3"
    parsed = parse_task_definition(
        task_definition(arn=arn, executionRoleArn="ecsTaskExecutionRole", taskRoleArn="app-task")
    )
    assert parsed.execution_role_arn == f"arn:aws-us-gov:iam::{ACCT}:role/ecsTaskExecutionRole"
    assert parsed.task_role_arn == f"arn:aws-us-gov:iam::{ACCT}:role/app-task"
    assert (parsed.account, parsed.region) == (ACCT, "us-gov-west-1")


def test_no_roles() -> None:
    doc = task_definition()
    del doc["executionRoleArn"]
    doc["taskRoleArn"] = ""
    parsed = parse_task_definition(doc)
    assert (parsed.execution_role_arn, parsed.task_role_arn) == (None, None)


# --- the record, shapes, order -----------------------------------------------------------------


def test_record_fields_and_wrapped_output() -> None:
    doc = task_definition(
        app(image=f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/app:1"),
        {"name": "sidecar", "image": "busybox"},
        requiresCompatibilities=["FARGATE"],
        status="INACTIVE",
    )
    bare = parse_task_definition(doc)
    assert parse_task_definition({"taskDefinition": doc, "tags": []}) == bare
    assert (bare.arn, bare.family, bare.revision, bare.status) == (TD_ARN, "app", 7, "INACTIVE")
    assert bare.containers == ("app", "sidecar")
    assert bare.requires_compatibilities == ("FARGATE",)
    assert bare.task_role_arn == f"arn:aws:iam::{ACCT}:role/ecs/app-task"


def test_needs_are_sorted_by_field_in_document_order_and_deterministic() -> None:
    containers = [
        {"name": f"c{i}", "image": f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/r{i}:1"}
        for i in range(12)
    ]
    doc = task_definition(*containers)
    parsed = parse_task_definition(doc)
    fields = [n.field for n in parsed.needs]
    assert fields == [f"containerDefinitions[{i}].image" for i in range(12) for _ in (0, 1)]
    assert parse_task_definition(copy.deepcopy(doc)) == parsed  # same input, same answer


def test_in_the_sample_only_firelens_declares_task_role_needs() -> None:
    for raw in json.loads(SAMPLE.read_text())["taskDefinitions"]:
        parsed = parse_task_definition(raw)
        task = [n for n in parsed.needs if n.kind == "task"]
        if parsed.family == "web-frontend":
            assert task and all(".logConfiguration.options.Name" in n.field for n in task)
        else:
            assert not task, parsed.family


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("taskDefinitionArn"), "taskDefinitionArn is missing"),
        (lambda d: d.update(taskDefinitionArn="app:7"), "is not an ECS task definition ARN"),
        (lambda d: d.update(containerDefinitions=[]), "containerDefinitions is missing or empty"),
        (
            lambda d: d.update(containerDefinitions={"app": {}}),
            "containerDefinitions must be a list",
        ),
        (lambda d: d.update(containerDefinitions=[{"image": "x"}]), r"\[0\]\.name is missing"),
        (lambda d: d.update(containerDefinitions=[{"name": "a"}]), r"\[0\]\.image is missing"),
        (
            lambda d: d["containerDefinitions"][0].update(secrets={"DB": "x"}),
            r"containerDefinitions\[0\]\.secrets must be a list",
        ),
        (lambda d: d.update(executionRoleArn=7), "executionRoleArn must be a string"),
        (lambda d: d.update(revision="7"), "revision a number"),
    ],
)
def test_wrong_shapes_raise_with_the_field(mutate: Any, message: str) -> None:
    doc = task_definition(app())
    mutate(doc)
    with pytest.raises(ValueError, match=message):
        parse_task_definition(doc)


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        parse_task_definition(["not", "a", "task definition"])  # type: ignore[arg-type]


# --- the sample --------------------------------------------------------------------------------


def test_sample_logs_task_definitions() -> None:
    parsed = {
        t.arn.rsplit("/", 1)[1]: t
        for t in map(parse_task_definition, json.loads(SAMPLE.read_text())["taskDefinitions"])
    }
    assert len(parsed) == 8

    web = parsed["web-frontend:1"]
    assert web.task_role_arn == "arn:aws:iam::883921282152:role/web-frontend-task"  # was bare
    assert web.containers == ("nginx", "web-app", "log_router")
    # nginx comes from public.ecr.aws and logs through FireLens: no execution-role need, and
    # the log router writes its logs with the task role.
    nginx = [n for n in web.needs if n.field.startswith("containerDefinitions[0]")]
    assert {n.kind for n in nginx} == {"task"}
    assert ("s3:GetObject",) in {n.actions for n in web.needs if "firelensConfiguration" in n.field}

    orders = parsed["orders-api:2"]
    resources = {n.resource for n in orders.needs}
    assert "arn:aws:secretsmanager:us-east-1:883921282152:secret:orders/db-Qle5KH" in resources
    assert "arn:aws:ssm:us-east-1:883921282152:parameter/orders-feature-flags" in resources
    assert (
        "arn:aws:logs:us-east-1:883921282152:log-group:/ecs/orders-api:log-stream:ecs/orders-api/*"
        in resources
    )

    payments = parsed["payments-worker:1"]
    assert (
        ("logs:CreateLogGroup",),
        "arn:aws:logs:us-east-1:883921282152:log-group:/ecs/payments-worker",
    ) in {(n.actions, n.resource) for n in payments.needs}

    ingest = parsed["ingest-eu:1"]
    credentials = [n for n in ingest.needs if "repositoryCredentials" in n.field]
    assert [(n.actions, n.resource_known) for n in credentials] == [
        (("kms:Decrypt",), False),
        (("secretsmanager:GetSecretValue",), True),
    ]
    assert all(isinstance(n, Need) for t in parsed.values() for n in t.needs)
