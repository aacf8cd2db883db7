"""What a task definition makes the *task* role need: the application's own calls are what
CloudTrail shows, but some of the task role's work never reaches CloudTrail as the action it
needs, and is declared in the task definition instead. Pure: parts of the document in, needs
(``Need`` fields) out; ``ecs.parse_task_definition`` calls these.

- **EFS with IAM authorization** (``volumes[].efsVolumeConfiguration.authorizationConfig.iam:
  ENABLED``): the task role mounts the file system, so it needs ``elasticfilesystem:ClientMount``,
  plus ``ClientWrite`` unless every container mounts the volume read-only, on the file system
  ARN (an access point narrows it with the ``elasticfilesystem:AccessPointArn`` condition, which
  the original statements carry). ``ClientRootAccess`` is needed when a container works as root
  on the file system, which the task definition cannot tell: declared, so kept when granted,
  never added. EFS authorizes ``elasticfilesystem:`` client actions when the client connects
  (https://docs.aws.amazon.com/efs/latest/ug/iam-access-control-nfs-efs.html;
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EFSAuthorizationConfig.html);
  CloudTrail records the connection, not the actions (``observability.csv``).
- **FireLens outputs** (``logDriver: awsfirelens``): the log router sends with the task role
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/firelens-taskdef.html); by output
  plugin ``Name`` (aws-for-fluent-bit, https://github.com/aws/aws-for-fluent-bit and the Fluent
  Bit output docs): ``firehose`` / ``kinesis_firehose`` + ``delivery_stream`` ->
  ``firehose:PutRecordBatch``; ``kinesis`` / ``kinesis_streams`` + ``stream`` ->
  ``kinesis:PutRecords``; ``cloudwatch_logs`` + ``log_group_name`` -> ``logs:CreateLogStream``,
  ``logs:PutLogEvents`` on its streams (``logs:CreateLogGroup`` with ``auto_create_group``); the
  older ``cloudwatch`` plugin also ``logs:DescribeLogStreams``; ``s3`` + ``bucket`` ->
  ``s3:PutObject``. Another plugin is not guessed.
- **Sidecars whose images AWS publishes**: the X-Ray daemon needs what
  ``AWSXRayDaemonWriteAccess`` grants
  (https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-ecs.html); the CloudWatch agent
  what ``CloudWatchAgentServerPolicy`` grants for metrics and logs
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/deploy_servicelens_CloudWatch_agent_deploy_ECS.html).
  Both on ``*``: the managed policies grant them so, and the daemons name no resource.
- **App Mesh Envoy**: ``appmesh:StreamAggregatedResources`` on the virtual node (or gateway) in
  ``APPMESH_RESOURCE_ARN``
  (https://docs.aws.amazon.com/app-mesh/latest/userguide/proxy-authorization.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NeedSpec", "container_task_needs", "efs_task_needs"]

# (actions, resource, reason, field, resource_known, optional): the fields of a task-role Need.
NeedSpec = tuple[tuple[str, ...], str, str, str, bool, bool]

_XRAY_DAEMON = ("aws-xray-daemon",)
_CLOUDWATCH_AGENT = ("cloudwatch-agent",)
_APPMESH_ENVOY = ("aws-appmesh-envoy",)
# AWSXRayDaemonWriteAccess (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_id-based-policy-examples.html)
XRAY_DAEMON_ACTIONS = ("xray:GetSamplingRules", "xray:GetSamplingStatisticSummaries",
                       "xray:GetSamplingTargets", "xray:PutTelemetryRecords",
                       "xray:PutTraceSegments")
# CloudWatchAgentServerPolicy, the metrics and logs part
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/create-iam-roles-for-cloudwatch-agent.html)
CLOUDWATCH_AGENT_ACTIONS = ("cloudwatch:PutMetricData", "logs:CreateLogGroup",
                            "logs:CreateLogStream", "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams", "logs:PutLogEvents")


def efs_task_needs(volumes: Sequence[Any], containers: Sequence[Any], *, partition: str,
                   region: str, account: str) -> list[NeedSpec]:
    """EFS volumes mounted with the task role (module docstring)."""
    needs: list[NeedSpec] = []
    for index, volume in enumerate(volumes):
        if not isinstance(volume, Mapping):
            raise ValueError(f"volumes[{index}] must be an object")
        config = volume.get("efsVolumeConfiguration")
        if not isinstance(config, Mapping):
            continue
        auth = config.get("authorizationConfig")
        if not isinstance(auth, Mapping) or str(auth.get("iam", "")).upper() != "ENABLED":
            continue
        field = f"volumes[{index}].efsVolumeConfiguration"
        fs = config.get("fileSystemId")
        if not isinstance(fs, str) or not fs:
            raise ValueError(f"{field}.fileSystemId is missing")
        arn = f"arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{fs}"
        point = auth.get("accessPointId")
        through = f" through access point {point}" if isinstance(point, str) and point else ""
        what = f"EFS file system {fs}{through} (volume {volume.get('name', '?')})"
        where = f"{field}.authorizationConfig.iam"
        mounts = [m for c in containers if isinstance(c, Mapping)
                  for m in c.get("mountPoints") or ()
                  if isinstance(m, Mapping) and m.get("sourceVolume") == volume.get("name")]
        writes = not mounts or any(not m.get("readOnly") for m in mounts)
        actions = (("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite") if writes
                   else ("elasticfilesystem:ClientMount",))
        access = "read-write" if writes else "read-only"
        needs.append((actions, arn, f"{what}: mounted {access} with the task role", where, True,
                      False))
        needs.append((("elasticfilesystem:ClientRootAccess",), arn,
                      f"{what}: root access, if a container works as root on it (the task "
                      "definition cannot tell: kept when granted, never added)", where, True,
                      True))
    return needs


def container_task_needs(container: Mapping[str, Any], field: str, name: str, *,
                         partition: str, region: str, account: str) -> list[NeedSpec]:
    """FireLens outputs and AWS's sidecars of one container (module docstring)."""
    needs: list[NeedSpec] = []
    image = str(container.get("image", ""))
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    if repository in _XRAY_DAEMON:
        needs.append((XRAY_DAEMON_ACTIONS, "*", f"X-Ray daemon {image} in container {name}",
                      f"{field}.image", True, False))
    elif repository in _CLOUDWATCH_AGENT:
        needs.append((CLOUDWATCH_AGENT_ACTIONS, "*",
                      f"CloudWatch agent {image} in container {name}", f"{field}.image", True,
                      False))
    elif repository in _APPMESH_ENVOY:
        node = next((e.get("value") for e in container.get("environment") or ()
                     if isinstance(e, Mapping) and e.get("name") == "APPMESH_RESOURCE_ARN"),
                    None)
        known = isinstance(node, str) and node.startswith("arn:")
        needs.append((("appmesh:StreamAggregatedResources",), node if known else "*",
                      f"App Mesh Envoy {image} in container {name}"
                      + ("" if known else ": APPMESH_RESOURCE_ARN not set, the node is unknown"),
                      f"{field}.image", known, False))
    config = container.get("logConfiguration")
    if isinstance(config, Mapping) and config.get("logDriver") == "awsfirelens":
        options = config.get("options") or {}
        if isinstance(options, Mapping):
            needs += _firelens_output(options, f"{field}.logConfiguration.options", name,
                                      partition=partition, region=region, account=account)
    return needs


def _firelens_output(options: Mapping[str, Any], field: str, container: str, *, partition: str,
                     region: str, account: str) -> list[NeedSpec]:
    plugin = str(options.get("Name", "")).lower()
    where = f"{field}.Name"
    region = str(options.get("region") or region)
    what = f"FireLens output {plugin} of container {container}"

    def option(key: str) -> str | None:
        value = options.get(key)
        return value if isinstance(value, str) and value else None

    if plugin in ("firehose", "kinesis_firehose") and option("delivery_stream"):
        arn = (f"arn:{partition}:firehose:{region}:{account}:deliverystream/"
               f"{option('delivery_stream')}")
        return [(("firehose:PutRecordBatch",), arn, what, where, True, False)]
    if plugin in ("kinesis", "kinesis_streams") and option("stream"):
        arn = f"arn:{partition}:kinesis:{region}:{account}:stream/{option('stream')}"
        return [(("kinesis:PutRecords",), arn, what, where, True, False)]
    if plugin in ("cloudwatch", "cloudwatch_logs") and option("log_group_name"):
        group = f"arn:{partition}:logs:{region}:{account}:log-group:{option('log_group_name')}"
        stream = option("log_stream_name") or f"{option('log_stream_prefix') or ''}*"
        actions = ("logs:CreateLogStream", "logs:PutLogEvents")
        if plugin == "cloudwatch":  # the older Go plugin looks its streams up first
            actions = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
        needs = [(actions, f"{group}:log-stream:{stream}", what, where, True, False)]
        if str(options.get("auto_create_group", "")).lower() == "true":
            needs.append((("logs:CreateLogGroup",), group, f"{what} (auto_create_group)",
                          where, True, False))
        return needs
    if plugin == "s3" and option("bucket"):
        return [(("s3:PutObject",), f"arn:{partition}:s3:::{option('bucket')}/*", what, where,
                 True, False)]
    return []
