"""What a task definition makes the *task* role need (issue 11, case 5): EFS with IAM
authorization, FireLens destinations, the X-Ray daemon and CloudWatch agent sidecars, App Mesh's
Envoy. None of it reaches CloudTrail as the action itself, so each is kept by rule, scoped, and
names the field it comes from."""

from __future__ import annotations

from typing import Any

import pytest
from test_ecs_needs import ACCT, REGION, app, task_definition

from rightsizer.iam.catalog import catalog
from rightsizer.iam.ecs import parse_task_definition
from rightsizer.iam.observability import observability, settings_from_config
from rightsizer.iam.patterns import matches

FS = "fs-0123456789abcdef0"
FS_ARN = f"arn:aws:elasticfilesystem:{REGION}:{ACCT}:file-system/{FS}"


def task_needs(*containers: dict[str, Any], **extra: Any) -> dict[tuple[str, ...], list]:
    parsed = parse_task_definition(task_definition(*containers, **extra))
    found: dict[tuple[str, ...], list] = {}
    for need in parsed.needs:
        if need.kind == "task":
            found.setdefault(need.actions, []).append(need)
    return found


def efs_volume(iam: str = "ENABLED", **authorization: Any) -> dict[str, Any]:
    return {"name": "data", "efsVolumeConfiguration": {
        "fileSystemId": FS, "transitEncryption": "ENABLED",
        "authorizationConfig": {"iam": iam, **authorization}}}


def mounted(read_only: bool) -> dict[str, Any]:
    return app(mountPoints=[{"sourceVolume": "data", "containerPath": "/data",
                             "readOnly": read_only}])


def test_efs_with_iam_authorization_needs_mount_and_write() -> None:
    needs = task_needs(mounted(False), volumes=[efs_volume()])
    (mount,) = needs[("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")]
    assert mount.resource == FS_ARN
    assert mount.field == "volumes[0].efsVolumeConfiguration.authorizationConfig.iam"
    assert "file system fs-0123456789abcdef0" in mount.reason
    # Root access cannot be told from the task definition: kept when granted, never added.
    (root,) = needs[("elasticfilesystem:ClientRootAccess",)]
    assert root.resource == FS_ARN and "root" in root.reason


def test_efs_mounted_read_only_everywhere_needs_no_write() -> None:
    needs = task_needs(mounted(True), volumes=[efs_volume()])
    assert ("elasticfilesystem:ClientMount",) in needs
    assert not any("elasticfilesystem:ClientWrite" in a for a in needs)


def test_efs_through_an_access_point_is_still_authorized_on_the_file_system() -> None:
    needs = task_needs(mounted(False), volumes=[efs_volume(accessPointId="fsap-0a1b2c3d4e5f")])
    (mount,) = needs[("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")]
    assert mount.resource == FS_ARN and "access point fsap-0a1b2c3d4e5f" in mount.reason


@pytest.mark.parametrize("iam", ["DISABLED", None])
def test_efs_without_iam_authorization_needs_nothing(iam: str | None) -> None:
    volume = efs_volume() if iam else {"name": "data", "efsVolumeConfiguration": {
        "fileSystemId": FS}}
    if iam:
        volume["efsVolumeConfiguration"]["authorizationConfig"]["iam"] = iam
    assert task_needs(mounted(False), volumes=[volume]) == {}


def test_efs_client_actions_never_show_in_cloudtrail() -> None:
    trail = settings_from_config({"name": "all", "data_events": ["AWS::S3::Object"]})
    for action in ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                   "elasticfilesystem:ClientRootAccess"):
        assert not observability(action, [trail]).observable, action


def firelens(**options: str) -> dict[str, Any]:
    return app(logConfiguration={"logDriver": "awsfirelens", "options": options})


@pytest.mark.parametrize(("options", "actions", "resource"), [
    ({"Name": "firehose", "region": "eu-west-1", "delivery_stream": "app-logs"},
     ("firehose:PutRecordBatch",),
     f"arn:aws:firehose:eu-west-1:{ACCT}:deliverystream/app-logs"),
    ({"Name": "kinesis_firehose", "delivery_stream": "app-logs"},
     ("firehose:PutRecordBatch",), f"arn:aws:firehose:{REGION}:{ACCT}:deliverystream/app-logs"),
    ({"Name": "kinesis_streams", "stream": "app-events"},
     ("kinesis:PutRecords",), f"arn:aws:kinesis:{REGION}:{ACCT}:stream/app-events"),
    ({"Name": "kinesis", "stream": "app-events"},
     ("kinesis:PutRecords",), f"arn:aws:kinesis:{REGION}:{ACCT}:stream/app-events"),
    ({"Name": "cloudwatch_logs", "log_group_name": "/ecs/app", "log_stream_prefix": "web-"},
     ("logs:CreateLogStream", "logs:PutLogEvents"),
     f"arn:aws:logs:{REGION}:{ACCT}:log-group:/ecs/app:log-stream:web-*"),
    ({"Name": "cloudwatch", "log_group_name": "/ecs/app", "log_stream_name": "fixed"},
     ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
     f"arn:aws:logs:{REGION}:{ACCT}:log-group:/ecs/app:log-stream:fixed"),
    ({"Name": "s3", "bucket": "acme-logs", "region": REGION},
     ("s3:PutObject",), "arn:aws:s3:::acme-logs/*"),
])
def test_firelens_destinations_need_their_put_on_the_task_role(
        options: dict[str, str], actions: tuple[str, ...], resource: str) -> None:
    needs = task_needs(firelens(**options))
    (need,) = needs[actions]
    assert need.resource == resource
    assert need.field == "containerDefinitions[0].logConfiguration.options.Name"
    for action in actions:
        info = catalog().action(action)
        assert info is not None, action


def test_firelens_auto_create_group_adds_create_log_group() -> None:
    needs = task_needs(firelens(Name="cloudwatch_logs", log_group_name="/ecs/app",
                                auto_create_group="true"))
    (group,) = needs[("logs:CreateLogGroup",)]
    assert group.resource == f"arn:aws:logs:{REGION}:{ACCT}:log-group:/ecs/app"


def test_an_unknown_firelens_output_is_named_but_not_guessed() -> None:
    needs = task_needs(firelens(Name="datadog", apikey="x"))
    assert needs == {}


@pytest.mark.parametrize(("image", "service"), [
    ("public.ecr.aws/xray/aws-xray-daemon:3.x", "xray"),
    ("amazon/aws-xray-daemon", "xray"),
    ("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest", "cloudwatch"),
    ("amazon/cloudwatch-agent:1.300", "cloudwatch"),
])
def test_observability_sidecars_need_what_their_managed_policy_grants(image: str,
                                                                      service: str) -> None:
    needs = task_needs(app(), {"name": "sidecar", "image": image})
    actions = {a for group in needs for a in group}
    if service == "xray":
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                "xray:GetSamplingTargets"} <= actions
    else:
        assert {"cloudwatch:PutMetricData", "logs:PutLogEvents", "logs:CreateLogStream"} <= actions
    assert all(n.field == "containerDefinitions[1].image" for ns in needs.values() for n in ns)


def test_app_mesh_envoy_needs_to_stream_its_virtual_node() -> None:
    node = f"arn:aws:appmesh:{REGION}:{ACCT}:mesh/shop/virtualNode/orders"
    envoy = {"name": "envoy", "image": "840364872350.dkr.ecr.us-east-1.amazonaws.com/"
             "aws-appmesh-envoy:v1.29.4.0-prod",
             "environment": [{"name": "APPMESH_RESOURCE_ARN", "value": node}]}
    needs = task_needs(app(), envoy)
    (need,) = needs[("appmesh:StreamAggregatedResources",)]
    assert need.resource == node
    # An ECR image in AWS's own account: its pull is the execution role's, on that repository.
    parsed = parse_task_definition(task_definition(app(), envoy))
    pulls = [n for n in parsed.needs if n.kind == "execution" and "ecr:BatchGetImage" in n.actions]
    assert any(n.resource.startswith("arn:aws:ecr:us-east-1:840364872350:") for n in pulls)


def test_task_needs_resources_fit_the_catalog_templates() -> None:
    needs = task_needs(mounted(False), firelens(Name="firehose", delivery_stream="s"),
                       volumes=[efs_volume()])
    for group in needs.values():
        for need in group:
            for action in need.actions:
                templates = [t.arn_pattern for t in catalog().resource_types_of(action)]
                assert templates, action
                assert any(matches(t, need.resource, ignore_case=False) for t in templates), (
                    action, need.resource)
