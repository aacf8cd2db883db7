"""What a task definition says its roles need, before CloudTrail shows anything.

Why: the execution role works before the container starts (pull the image, open the log stream,
fetch secrets) and some of that never reaches CloudTrail (``logs:PutLogEvents``), or happens rarely
(a task starts once a month). The task definition declares it, so these needs are kept by rule with
the field that declares them as evidence. Pure: no I/O, no boto3.

Needs (the ECS developer guide, "Amazon ECS task execution IAM role",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html;
execution role unless said):

- ``image`` in a private ECR registry, ``ACCT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]/REPO``
  (and the dual-stack ``ACCT.dkr-ecr[-fips].REGION.on.aws``), with ``:tag``, ``@sha256:...``, both
  or neither: ``ecr:BatchGetImage`` + ``ecr:GetDownloadUrlForLayer`` on
  ``arn:PARTITION:ecr:REGION:ACCT:repository/REPO`` (the image's account, which may differ from the
  task's) and ``ecr:GetAuthorizationToken`` on ``*`` (it takes no resource). Other registries
  (Docker Hub, ``public.ecr.aws``) need no IAM permission to pull, unless private registry
  credentials are given (below).
- ``logConfiguration`` with the ``awslogs`` driver: ``logs:CreateLogStream`` + ``logs:PutLogEvents``
  on the group's streams. Streams are named ``PREFIX/CONTAINER/TASK_ID`` when
  ``awslogs-stream-prefix`` is set, so the grant narrows to ``log-stream:PREFIX/CONTAINER/*``;
  without a
  prefix the stream is named after the Docker container ID, so ``log-stream:*``. Both actions
  authorize on the log-stream ARN (Service Authorization Reference, via ``iam.catalog``).
  ``awslogs-create-group: "true"`` adds ``logs:CreateLogGroup`` on the group ARN. The region is
  ``awslogs-region`` (the task's region when absent), the account the task's.
- ``secrets[].valueFrom`` and ``logConfiguration.secretOptions[].valueFrom``: a Secrets Manager
  ARN, possibly followed by ``:json-key:version-stage:version-id``, needs
  ``secretsmanager:GetSecretValue`` on the ARN cut after its 7th field; anything else is an SSM
  parameter (an ARN, or a bare name in the task's region and account) needing
  ``ssm:GetParameters`` on ``arn:PARTITION:ssm:REGION:ACCT:parameter/NAME`` without a leading
  slash. Each also needs ``kms:Decrypt`` on the key that encrypts it, which the task definition
  does not name: that need has resource ``*`` and ``resource_known=False``. Only a customer
  managed key needs the grant; the default ``aws/secretsmanager`` / ``aws/ssm`` key's policy
  already lets the account's principals use it through the service.
- ``repositoryCredentials.credentialsParameter``: ``secretsmanager:GetSecretValue`` on the secret
  (full ARN, or a name in the task's region) plus ``kms:Decrypt`` on its unknown key.
- ``environmentFiles`` (type ``s3``): ``s3:GetObject`` on the object and ``s3:GetBucketLocation``
  on its bucket.
- FireLens with ``config-file-type: s3``: the same two S3 actions on ``config-file-value``.

Not derived, on purpose:

- ``ecr:BatchCheckLayerAvailability``: AWS's managed ``AmazonECSTaskExecutionRolePolicy`` grants
  it, but it is a push-time call that a pull never makes.
- Most of the task role's needs: the application's calls are what CloudTrail shows. What the
  task definition does declare for it (EFS with IAM authorization, FireLens outputs, AWS's
  sidecars) is in ``task_needs.py``. ECS Exec is switched on per service
  or RunTask (``enableExecuteCommand``), not in the task definition.
- ECR pull-through cache (a first pull may also need ``ecr:CreateRepository`` and
  ``ecr:BatchImportUpstreamImage``): the image URI does not say whether a cache rule applies.

Role references: ``executionRoleArn`` / ``taskRoleArn`` may be a full ARN or a bare role name
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html). A
bare name becomes ``arn:PARTITION:iam::ACCOUNT:role/NAME`` with the task's account: a name carries
no path, so for a role that lives under a path (``/ecs/``) this ARN is not the one IAM prints. Role
names are unique in an account whatever the path, so match such an ARN to IAM's roles by name.

Documentation relied on:

- Task execution role: ECR pulls, awslogs, private registry authentication, Secrets Manager and
  SSM secrets ("kms:Decrypt - Required only if your key uses a custom KMS key and not the default
  key"), S3 environment files (``s3:GetObject`` on the object, ``s3:GetBucketLocation`` on the
  bucket): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
- awslogs options (``awslogs-create-group`` needs ``logs:CreateLogGroup``; stream name
  ``prefix-name/container-name/ecs-task-id``):
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html and
  https://docs.aws.amazon.com/prescriptive-guidance/latest/implementing-logging-monitoring-cloudwatch/ec2-fargate-logs.html
- Secrets in environment variables (full ARN or name of a parameter in the same region; the
  ``json-key:version-stage:version-id`` suffix):
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
- Secrets Manager appends "-" and 6 random characters to a secret's name; a policy names a secret
  whose suffix it does not know with ``NAME-??????``:
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html and
  https://docs.aws.amazon.com/secretsmanager/latest/userguide/permissions_grant-limited-resources.html
- FireLens custom configuration from S3, read by the execution role; output plugins write with the
  task role: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_firelens.html and
  https://github.com/aws-samples/amazon-ecs-firelens-examples (README, IAM resources)
- ECR registry hosts, including FIPS and dual-stack (``dkr-ecr.REGION.on.aws``):
  https://docs.aws.amazon.com/general/latest/gr/ecr.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rightsizer.iam.task_needs import container_task_needs, efs_task_needs

__all__ = [
    "Need",
    "RoleKind",
    "TaskDefinition",
    "parse_ecr_image",
    "parse_task_definition",
    "role_arn",
]

RoleKind = Literal["execution", "task"]

_TASK_DEFINITION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"task-definition/(?P<family>[^:/]+):(?P<revision>\d+)$"
)

# REGISTRY/REPO[:TAG][@DIGEST]. A tag never holds "/" or "@", so the last ":" before an "@" (or the
# end) that is followed by no "/" starts the tag.
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\."
    r"(?:dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"|dkr-ecr(?:-fips)?\.(?P<ds_region>[a-z0-9-]+)\.on\.aws)"
    r"/(?P<repo>[^:@]+)(?::(?P<tag>[^:@/]+))?(?:@(?P<digest>[a-z0-9]+:[0-9a-fA-F]+))?$"
)

_INDEX = re.compile(r"\[(\d+)\]")

# Secrets Manager adds "-" and 6 random characters to a secret's name.
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


# What pulling an image takes on its repository (push-time BatchCheckLayerAvailability is not).
ECR_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def ecr_pull_statement(role_arn: str, sid: str = "AllowPull") -> dict[str, Any]:
    """The statement a repository policy needs so that ``role_arn`` of another account may pull
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html)."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": role_arn},
            "Action": list(ECR_PULL_ACTIONS)}


@dataclass(frozen=True, slots=True)
class Need:
    """One permission a role needs because the task definition says so."""

    kind: RoleKind  # which role needs it
    actions: tuple[str, ...]  # "service:Action" as IAM spells them, sorted
    resource: str  # ARN or ARN pattern; "*" where the action takes no resource
    reason: str  # "image 1234.dkr.ecr.us-east-1.amazonaws.com/orders:1 in container app"
    field: str  # "containerDefinitions[0].image"
    resource_known: bool = True  # False when the task definition does not name it
    optional: bool = False  # needed only in a case the task definition cannot tell (root access)


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """The parts of one task definition revision that matter for its roles."""

    arn: str
    family: str
    revision: int
    status: str
    account: str | None
    region: str | None
    execution_role_arn: str | None  # always a full role ARN
    task_role_arn: str | None
    containers: tuple[str, ...]  # container names, in order
    requires_compatibilities: tuple[str, ...]
    needs: tuple[Need, ...]  # sorted


@dataclass(frozen=True, slots=True)
class EcrImage:
    """A private ECR image reference, split."""

    account: str
    region: str
    partition: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"


def parse_ecr_image(image: str) -> EcrImage | None:
    """The parts of a private ECR image URI, or None for any other registry."""
    match = _ECR_IMAGE.match(image.strip())
    if not match:
        return None
    region = match["region"] or match["ds_region"]
    return EcrImage(
        account=match["account"],
        region=region,
        partition=_partition(region, china_host=bool(match["cn"])),
        repository=match["repo"],
        tag=match["tag"],
        digest=match["digest"],
    )


def _partition(region: str, *, china_host: bool = False) -> str:
    if china_host or region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_arn(value: str, *, account: str | None, partition: str = "aws") -> str:
    """A full IAM role ARN for ``executionRoleArn`` / ``taskRoleArn``.

    A full ARN is returned unchanged. A bare name (``app-task``) or a path and name
    (``ecs/app-task``, ``/ecs/app-task``) becomes ``arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME``.
    A bare name takes no path, even when the role lives under one: see the module docstring.
    Raises ValueError for an empty value, or a name without an account to put it in."""
    value = value.strip()
    if not value:
        raise ValueError("empty role reference")
    if value.startswith("arn:"):
        return value
    if account is None:
        raise ValueError(f"role name {value!r} without an account to make its ARN")
    return f"arn:{partition}:iam::{account}:role/{value.lstrip('/')}"


def parse_task_definition(doc: Mapping[str, Any]) -> TaskDefinition:
    """Roles, containers and needs of one task definition (a bare ``taskDefinition`` object or a
    ``describe-task-definition`` output). Raises ValueError naming the field that is wrong."""
    if isinstance(doc, Mapping) and isinstance(doc.get("taskDefinition"), Mapping):
        doc = doc["taskDefinition"]
    if not isinstance(doc, Mapping):
        raise ValueError(f"a task definition must be an object, not {type(doc).__name__}")
    arn = doc.get("taskDefinitionArn")
    if not isinstance(arn, str):
        raise ValueError("taskDefinitionArn is missing")
    match = _TASK_DEFINITION_ARN.match(arn)
    if not match:
        raise ValueError(f"taskDefinitionArn {arn!r} is not an ECS task definition ARN")
    family = doc.get("family", match["family"])
    revision = doc.get("revision", int(match["revision"]))
    if not isinstance(family, str) or not isinstance(revision, int) or isinstance(revision, bool):
        raise ValueError(f"{arn}: family must be a string and revision a number")
    status = doc.get("status") or "UNKNOWN"
    if not isinstance(status, str):
        raise ValueError(f"{arn}: status must be a string")
    context = _Context(match["partition"], match["region"], match["account"])
    containers = _list(doc, "containerDefinitions", "containerDefinitions")
    if not containers:
        raise ValueError(f"{arn}: containerDefinitions is missing or empty")
    needs: list[Need] = []
    names: list[str] = []
    where = {"partition": context.partition, "region": context.region,
             "account": context.account}
    for index, container in enumerate(containers):
        field = f"containerDefinitions[{index}]"
        if not isinstance(container, Mapping):
            raise ValueError(f"{arn}: {field} must be an object")
        try:
            names.append(_required(container, "name", field))
            needs.extend(_container_needs(container, field, names[-1], context))
            needs.extend(Need("task", *spec) for spec in container_task_needs(
                container, field, names[-1], **where))
        except ValueError as exc:
            raise ValueError(f"{arn}: {exc}") from None
    try:
        volumes = _list(doc, "volumes", "volumes")
        needs.extend(Need("task", *spec) for spec in efs_task_needs(volumes, containers, **where))
    except ValueError as exc:
        raise ValueError(f"{arn}: {exc}") from None
    compatibilities = doc.get("requiresCompatibilities") or []
    if not isinstance(compatibilities, list) or not all(
        isinstance(c, str) for c in compatibilities
    ):
        raise ValueError(f"{arn}: requiresCompatibilities must be a list of strings")
    return TaskDefinition(
        arn=arn,
        family=family,
        revision=revision,
        status=status,
        account=context.account,
        region=context.region,
        execution_role_arn=_role(doc, "executionRoleArn", context, arn),
        task_role_arn=_role(doc, "taskRoleArn", context, arn),
        containers=tuple(names),
        requires_compatibilities=tuple(compatibilities),
        needs=tuple(sorted(set(needs), key=_need_order)),
    )


def _need_order(need: Need) -> tuple[Any, ...]:
    """By role, then by field in document order (``[10]`` after ``[9]``), then the rest."""
    field = tuple(int(t) if t.isdigit() else t for t in _INDEX.split(need.field))
    return (need.kind, field, need.actions, need.resource, need.reason, need.resource_known)


@dataclass(frozen=True, slots=True)
class _Context:
    """Where the task definition lives: fills bare names (SSM parameters, secrets, roles)."""

    partition: str
    region: str
    account: str


def _role(doc: Mapping[str, Any], key: str, context: _Context, arn: str) -> str | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{arn}: {key} must be a string")
    return role_arn(value, account=context.account, partition=context.partition)


def _container_needs(
    container: Mapping[str, Any], field: str, name: str, context: _Context
) -> list[Need]:
    needs: list[Need] = []
    image = _required(container, "image", field)
    needs.extend(_image_needs(image, f"{field}.image", name))

    credentials = _dict(container, "repositoryCredentials", field)
    if credentials is not None:
        where = f"{field}.repositoryCredentials.credentialsParameter"
        parameter = _str(credentials, "credentialsParameter", f"{field}.repositoryCredentials")
        if parameter:
            what = f"private registry credentials {parameter} for image {image} in container {name}"
            needs.extend(_secrets_manager_needs(parameter, where, what, context))

    for index, secret in enumerate(_list(container, "secrets", f"{field}.secrets")):
        needs.extend(_secret_needs(secret, f"{field}.secrets[{index}]", name, context, "secret"))

    log_config = _dict(container, "logConfiguration", field)
    if log_config is not None:
        needs.extend(_log_needs(log_config, f"{field}.logConfiguration", name, context))

    for index, env_file in enumerate(
        _list(container, "environmentFiles", f"{field}.environmentFiles")
    ):
        where = f"{field}.environmentFiles[{index}]"
        if not isinstance(env_file, Mapping):
            raise ValueError(f"{where} must be an object")
        kind = env_file.get("type", "s3")
        if kind != "s3":
            raise ValueError(f"{where}.type is {kind!r}; ECS knows only 's3'")
        value = _required(env_file, "value", where)
        what = f"environment file {value} in container {name}"
        needs.extend(_s3_object_needs(value, f"{where}.value", what))

    firelens = _dict(container, "firelensConfiguration", field)
    if firelens is not None:
        options = _dict(firelens, "options", f"{field}.firelensConfiguration") or {}
        if options.get("config-file-type") == "s3":
            where = f"{field}.firelensConfiguration.options.config-file-value"
            value = options.get("config-file-value")
            if not isinstance(value, str) or not value:
                raise ValueError(f"{where} is missing for config-file-type s3")
            what = f"FireLens config file {value} in container {name}"
            needs.extend(_s3_object_needs(value, where, what))
    return needs


def _image_needs(image: str, field: str, container: str) -> list[Need]:
    ecr = parse_ecr_image(image)
    if ecr is None:
        return []  # public or third-party registry: pulling needs no IAM permission
    what = f"image {image} in container {container}"
    return [
        # Pull actions only: BatchCheckLayerAvailability is push-time.
        Need(
            "execution",
            ECR_PULL_ACTIONS,
            ecr.repository_arn,
            what,
            field,
        ),
        Need("execution", ("ecr:GetAuthorizationToken",), "*", f"{what} (registry login)", field),
    ]


def _log_needs(
    config: Mapping[str, Any], field: str, container: str, context: _Context
) -> list[Need]:
    needs: list[Need] = []
    driver = config.get("logDriver")
    options = _dict(config, "options", field) or {}
    if driver == "awslogs":
        group = options.get("awslogs-group")
        if not isinstance(group, str) or not group:
            raise ValueError(f"{field}.options.awslogs-group is missing for the awslogs driver")
        region = options.get("awslogs-region") or context.region
        if not isinstance(region, str):
            raise ValueError(f"{field}.options.awslogs-region must be a string")
        partition = _partition(region) if region != context.region else context.partition
        group_arn = f"arn:{partition}:logs:{region}:{context.account}:log-group:{group}"
        prefix = options.get("awslogs-stream-prefix")
        # Streams are PREFIX/CONTAINER/TASK_ID with a prefix, the Docker container ID without.
        streams = f"{prefix}/{container}/*" if isinstance(prefix, str) and prefix else "*"
        needs.append(
            Need(
                "execution",
                ("logs:CreateLogStream", "logs:PutLogEvents"),
                f"{group_arn}:log-stream:{streams}",
                f"awslogs log group {group} in container {container}",
                f"{field}.options.awslogs-group",
            )
        )
        if str(options.get("awslogs-create-group", "")).lower() == "true":
            needs.append(
                Need(
                    "execution",
                    ("logs:CreateLogGroup",),
                    group_arn,
                    f"awslogs-create-group for log group {group} in container {container}",
                    f"{field}.options.awslogs-create-group",
                )
            )
    # With the awsfirelens driver the log router sends with the *task* role, through an output
    # plugin whose needs the options do not pin down: not derived (module docstring).
    for index, secret in enumerate(_list(config, "secretOptions", f"{field}.secretOptions")):
        where = f"{field}.secretOptions[{index}]"
        needs.extend(_secret_needs(secret, where, container, context, "log driver secret option"))
    return needs


def _secret_needs(
    secret: Any, field: str, container: str, context: _Context, label: str
) -> list[Need]:
    if not isinstance(secret, Mapping):
        raise ValueError(f"{field} must be an object")
    value = _required(secret, "valueFrom", field)
    name = secret.get("name", "?")
    where = f"{field}.valueFrom"
    what = f"{label} {name} from {value} in container {container}"
    if value.startswith("arn:"):
        parts = value.split(":")
        service = parts[2] if len(parts) > 2 else ""
        if service == "secretsmanager":
            return _secrets_manager_needs(value, where, what, context)
        if service == "ssm" and len(parts) >= 6 and parts[5].startswith("parameter/"):
            return _ssm_needs(value, where, what)
        raise ValueError(f"{where} {value!r} is neither a Secrets Manager nor an SSM parameter ARN")
    # Not an ARN: the name of a parameter in the task's own region and account.
    parameter = value.lstrip("/")
    if not parameter:
        raise ValueError(f"{where} is empty")
    arn = f"arn:{context.partition}:ssm:{context.region}:{context.account}:parameter/{parameter}"
    return _ssm_needs(arn, where, what)


def _secrets_manager_needs(value: str, field: str, what: str, context: _Context) -> list[Need]:
    if value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) < 7 or parts[2] != "secretsmanager" or parts[5] != "secret" or not parts[6]:
            raise ValueError(f"{field} {value!r} is not a Secrets Manager secret ARN")
        # Cut after the 7th field: json-key, version-stage and version-id select inside the
        # secret, the permission is on the secret.
        name, resource = parts[6], ":".join(parts[:7])
    else:
        # repositoryCredentials may name a secret of the task's own region by name.
        name = value
        resource = (
            f"arn:{context.partition}:secretsmanager:{context.region}:{context.account}:"
            f"secret:{value}"
        )
    if not _SECRET_SUFFIX.search(name):
        # A partial ARN or a name: match the random suffix the way Secrets Manager advises.
        resource += "-??????"
    return [
        Need("execution", ("secretsmanager:GetSecretValue",), resource, what, field),
        _kms_need(what, field, "aws/secretsmanager"),
    ]


def _ssm_needs(arn: str, field: str, what: str) -> list[Need]:
    return [
        Need("execution", ("ssm:GetParameters",), arn, what, field),
        _kms_need(what, field, "aws/ssm"),
    ]


def _kms_need(what: str, field: str, default_key: str) -> Need:
    return Need(
        "execution",
        ("kms:Decrypt",),
        "*",
        f"{what}: decrypt with its KMS key, which the task definition does not name; only a "
        f"customer managed key needs this grant (the default {default_key} key needs none)",
        field,
        resource_known=False,
    )


def _s3_object_needs(value: str, field: str, what: str) -> list[Need]:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[2] != "s3" or parts[3] or parts[4] or "/" not in parts[5]:
        raise ValueError(f"{field} {value!r} is not an S3 object ARN (arn:aws:s3:::BUCKET/KEY)")
    bucket, key = parts[5].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"{field} {value!r} is not an S3 object ARN (arn:aws:s3:::BUCKET/KEY)")
    return [
        Need("execution", ("s3:GetObject",), value, what, field),
        Need("execution", ("s3:GetBucketLocation",), f"arn:{parts[1]}:s3:::{bucket}", what, field),
    ]


# --- typed access ------------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str, field: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}.{key} must be a non-empty string")
    return value


def _required(obj: Mapping[str, Any], key: str, field: str) -> str:
    value = _str(obj, key, field)
    if value is None:
        raise ValueError(f"{field}.{key} is missing")
    return value


def _dict(obj: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}.{key} must be an object")
    return value


def _list(obj: Mapping[str, Any], key: str, field: str) -> Sequence[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list")
    return value
