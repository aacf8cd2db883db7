"""The per-service rules that find the ARN a call was authorized against, and what they share:
the record's facts for one action (``_Context``), and a rule's answer (``_Found``, ``_Missing``).
``rightsizer.iam.resources`` applies them; its docstring lists each rule's sources."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from rightsizer.iam.catalog import AccessLevel, ActionInfo, ResourceType, catalog, fill_arn
from rightsizer.iam.patterns import matches

if TYPE_CHECKING:
    from rightsizer.iam.resources import Call

# Partition by region prefix (AWS General Reference, "AWS partitions"); longest prefix first.
_PARTITIONS = (
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
    ("cn-", "aws-cn"),
)


@lru_cache(maxsize=256)
def partition_of(region: str | None) -> str:
    """``"aws"``; ``"aws-cn"`` for ``cn-*``, ``"aws-us-gov"`` for ``us-gov-*``, the ISO ones."""
    if region:
        lowered = region.lower()
        for prefix, partition in _PARTITIONS:
            if lowered.startswith(prefix):
                return partition
    return "aws"


# -- small helpers ---------------------------------------------------------------------------


_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_LAMBDA_PARTIAL = re.compile(r"^(?P<account>\d{12}):function:(?P<rest>.+)$")
_COPY_EVENTS = frozenset({"copyobject", "uploadpartcopy"})
# Athena calls whose WorkGroup parameter defaults to "primary" when absent (Athena API reference).
_ATHENA_PRIMARY_DEFAULT = frozenset(
    {"startqueryexecution", "listqueryexecutions", "listnamedqueries", "createnamedquery"}
)
# SQS queue URL hosts (SQS developer guide, "Amazon SQS queue and message identifiers"; AWS General
# Reference, SQS endpoints: sqs.REGION.amazonaws.com, legacy REGION.queue.amazonaws.com and
# queue.amazonaws.com for us-east-1, dual-stack sqs.REGION.api.aws, VPC endpoint DNS names).
_SQS_HOSTS = (
    re.compile(r"^sqs\.(?P<region>[a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$"),
    re.compile(r"^(?P<region>[a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?$"),
    re.compile(r"^.+\.sqs\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com(?:\.cn)?$"),
)
_SQS_US_EAST_1 = frozenset({"queue.amazonaws.com", "sqs.amazonaws.com"})


def _first_value(lowered: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first non-empty value among ``names`` in parameters whose keys are lowercased
    (eventVersions and protocols differ: ``queueUrl`` / ``QueueUrl``)."""
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, "", [], {}):
            return value
    return None


def _strings(value: Any) -> list[str]:
    """A string or a list of strings as a list; anything else as empty."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _arn_fields(value: str) -> list[str] | None:
    """``arn:partition:service:region:account:resource`` split in six; None for a non-ARN."""
    if not value.startswith("arn:"):
        return None
    fields = value.split(":", 5)
    return fields if len(fields) == 6 else None


def _fits(arn: str, types: Iterable[ResourceType]) -> bool:
    """Whether an ARN has the shape of one of the resource types (placeholders match anything)."""
    return any(matches(rt.arn_pattern, arn, ignore_case=False) for rt in types)


@dataclass(frozen=True, slots=True)
class _Found:
    arns: tuple[str, ...]
    how: str


@dataclass(frozen=True, slots=True)
class _Missing:
    reason: str
    final: bool = False  # the rule already weighed resources[]; the generic rules must not guess


_Outcome = _Found | _Missing | None  # None: the rule does not apply; try the generic rules


@lru_cache(maxsize=4096)
def _types_of(action: str) -> Mapping[str, ResourceType]:
    """The resource types an action can be scoped to, by lowercased name (read-only, shared by
    every derivation of the action)."""
    return MappingProxyType({rt.name.lower(): rt for rt in catalog().resource_types_of(action)})


class _Context:
    """One derivation: the action, the call and the ARN builder that fills templates."""

    def __init__(self, info: ActionInfo, call: Call) -> None:
        self.info = info
        self.call = call
        params = call.request_parameters
        self.params: Mapping[str, Any] = params if isinstance(params, Mapping) else {}
        self._lowered: dict[str, Any] | None = None
        self.partition = partition_of(call.region)
        self.types = _types_of(info.key)
        self.unknown_account = False
        self.unknown_region = False

    def param(self, *names: str) -> Any:
        """The first non-empty request parameter among ``names``, matched case-insensitively."""
        if self._lowered is None:
            self._lowered = {str(k).lower(): v for k, v in self.params.items()}
        return _first_value(self._lowered, names)

    def has(self, type_name: str) -> bool:
        """Whether the action can be scoped to this resource type (catalog name, any case)."""
        return type_name.lower() in self.types

    def arn(self, type_name: str, **values: str | None) -> str:
        """Fill the type's template. Region and Account come from the call unless given; whatever
        is unknown becomes ``*`` (``fill_arn``), and the caller's ``how`` says so."""
        rt = self.types[type_name.lower()]
        filled = {k: v for k, v in values.items() if v is not None}
        placeholders = rt.placeholders
        if "Region" not in filled and "Region" in placeholders:
            if self.call.region:
                filled["Region"] = self.call.region
            else:
                self.unknown_region = True
        if "Account" not in filled and "Account" in placeholders:
            if self.call.account:
                filled["Account"] = self.call.account
            else:
                self.unknown_account = True
        return fill_arn(rt.arn_template, filled, partition=self.partition)

    def resource_arns(self, cloudtrail_type: str | None = None) -> list[str]:
        """``resources[]`` ARNs of a CloudTrail type (any type when None) that fit the action."""
        found = []
        for entry in self.call.resources:
            arn = entry.get("ARN") if isinstance(entry, Mapping) else None
            if not isinstance(arn, str) or not arn:
                continue
            if cloudtrail_type is not None and entry.get("type") != cloudtrail_type:
                continue
            if _fits(arn, self.types.values()):
                found.append(arn)
        return found


def _from_arn(value: str) -> tuple[str | None, str | None, str]:
    """(region, account, resource part) of an ARN; empty fields as None."""
    fields = value.split(":", 5)
    return (fields[3] or None, fields[4] or None, fields[5])


# -- service rules ---------------------------------------------------------------------------


def _logs(ctx: _Context) -> _Outcome:
    group = ctx.param("logGroupName")
    region = account = None
    if not isinstance(group, str):
        ident = ctx.param("logGroupIdentifier")
        if isinstance(ident, str) and _arn_fields(ident):
            region, account, resource = _from_arn(ident)
            group = resource.removeprefix("log-group:").removesuffix(":*")
        elif isinstance(ident, str):
            group = ident
    if not isinstance(group, str) or not group:
        if ctx.has("log-group") or ctx.has("log-stream"):
            return _Missing("requestParameters has no logGroupName")
        return None
    stream = ctx.param("logStreamName")
    if isinstance(stream, str) and ctx.has("log-stream"):
        arn = ctx.arn(
            "log-stream", LogGroupName=group, LogStreamName=stream, Region=region, Account=account
        )
        return _Found((arn,), "requestParameters.logGroupName+logStreamName")
    if ctx.has("log-group"):
        arn = ctx.arn("log-group", LogGroupName=group, Region=region, Account=account)
        return _Found((arn,), "requestParameters.logGroupName")
    if ctx.has("log-stream"):
        arn = ctx.arn("log-stream", LogGroupName=group, Region=region, Account=account)
        return _Found((arn,), "requestParameters.logGroupName (no logStreamName: any stream)")
    return None


def _secretsmanager(ctx: _Context) -> _Outcome:
    if not ctx.has("secret"):
        return None
    ids = _strings(ctx.param("secretId")) or _strings(ctx.param("secretIdList"))
    if not ids:
        return _Missing("requestParameters has no secretId")
    arns, guessed_suffix = [], False
    for secret in ids:
        if _arn_fields(secret):
            cut = ":".join(secret.split(":")[:7])  # drop :json-key:stage:id
            if not _SECRET_SUFFIX.search(cut):
                cut, guessed_suffix = f"{cut}-??????", True
            arns.append(cut)
        else:
            arns.append(ctx.arn("secret", SecretId=f"{secret}-??????"))
            guessed_suffix = True
    how = "requestParameters.secretId"
    if guessed_suffix:
        how += " (a name or partial ARN: the 6-character suffix is unknown, -??????)"
    return _Found(tuple(arns), how)


def _ssm(ctx: _Context) -> _Outcome:
    if not ctx.has("parameter"):
        return None
    names, field = _strings(ctx.param("name")), "name"
    if not names:
        names, field = _strings(ctx.param("names")), "names"
    if not names:
        path = ctx.param("path")
        if isinstance(path, str) and path:
            names, field = [path.rstrip("/") or "/"], "path"
    if not names:
        return _Missing("requestParameters has no name, names or path")
    arns = []
    for name in names:
        if _arn_fields(name):
            arns.append(":".join(name.split(":")[:6]))  # drop a :version / :label selector
        else:
            bare = name.split(":", 1)[0].removeprefix("/")
            arns.append(ctx.arn("parameter", ParameterNameWithoutLeadingSlash=bare))
    return _Found(tuple(arns), f"requestParameters.{field}")


def _parse_queue_url(url: str) -> tuple[str | None, str, str] | None:
    """(region or None, account, queue name) from any SQS queue URL form; None if not one."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or not segments[-2].isdigit():
        return None
    host = (parts.hostname or "").lower()
    region = "us-east-1" if host in _SQS_US_EAST_1 else None
    for pattern in _SQS_HOSTS:
        match = pattern.match(host)
        if match:
            region = match.group("region")
            break
    return region, segments[-2], segments[-1]


def _sqs(ctx: _Context) -> _Outcome:
    if not ctx.has("queue"):
        return None
    url = ctx.param("queueUrl")
    if isinstance(url, str):
        parsed = _parse_queue_url(url)
        if parsed is None:
            return _Missing(f"requestParameters.queueUrl is not a queue URL: {url!r}")
        region, account, name = parsed
        return _Found(
            (ctx.arn("queue", QueueName=name, Region=region, Account=account),),
            "requestParameters.queueUrl",
        )
    name = ctx.param("queueName")
    if isinstance(name, str):
        owner = ctx.param("queueOwnerAWSAccountId")
        owner = owner if isinstance(owner, str) and _ACCOUNT.match(owner) else None
        return _Found(
            (ctx.arn("queue", QueueName=name, Account=owner),), "requestParameters.queueName"
        )
    return _Missing("requestParameters has no queueUrl or queueName")


def _s3_copy_source(value: str) -> tuple[str, str] | None:
    """(bucket, key) of ``x-amz-copy-source`` (``[/]bucket/key[?versionId=...]``, URL-encoded)."""
    source = unquote(value.split("?", 1)[0]).removeprefix("/")
    bucket, sep, key = source.partition("/")
    return (bucket, key) if sep and bucket and key else None


def _s3(ctx: _Context) -> _Outcome:
    object_action = ctx.has("object")
    bucket_action = ctx.has("bucket") and not object_action
    if not (object_action or bucket_action):
        return None
    is_copy = ctx.call.event_name.lower() in _COPY_EVENTS
    if object_action and is_copy and ctx.info.access_level in (AccessLevel.READ, AccessLevel.LIST):
        # The read half of a copy is authorized on the source object.
        source = ctx.param("x-amz-copy-source", "copySource")
        parsed = _s3_copy_source(source) if isinstance(source, str) else None
        if parsed is None:
            return _Missing("requestParameters has no x-amz-copy-source", True)
        arn = ctx.arn("object", BucketName=parsed[0], ObjectName=parsed[1])
        return _Found((arn,), "requestParameters.x-amz-copy-source")
    if not is_copy:  # a copy's resources[] lists source and destination alike
        wanted = "AWS::S3::Object" if object_action else "AWS::S3::Bucket"
        listed = [
            arn
            for arn in ctx.resource_arns(wanted)
            if object_action or "/" not in arn.split(":", 5)[5]
        ]
        if listed:
            return _Found(tuple(listed), "resources[]")
    bucket = ctx.param("bucketName")
    if not isinstance(bucket, str):
        return _Missing("requestParameters has no bucketName")
    key = ctx.param("key")
    if _arn_fields(bucket) and ":accesspoint/" in bucket:  # an access point ARN as bucket
        if object_action:
            arn = f"{bucket}/object/{key}" if isinstance(key, str) else f"{bucket}/object/*"
            return _Found((arn,), "requestParameters.bucketName (access point)+key")
        return _Found((bucket,), "requestParameters.bucketName (access point)")
    if object_action:
        if isinstance(key, str):
            arn = ctx.arn("object", BucketName=bucket, ObjectName=key)
            return _Found((arn,), "requestParameters.bucketName+key")
        arn = ctx.arn("object", BucketName=bucket, ObjectName="*")
        return _Found((arn,), "requestParameters.bucketName (no key: any object)")
    return _Found((ctx.arn("bucket", BucketName=bucket),), "requestParameters.bucketName")


def _nested_table_names(value: Any) -> list[str]:
    """Every ``tableName`` inside ``transactItems`` (``[{"put": {"tableName": ...}}, ...]``)."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if str(k).lower() == "tablename" and isinstance(v, str):
                found.append(v)
            else:
                found.extend(_nested_table_names(v))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(_nested_table_names(item))
    return found


def _dynamodb(ctx: _Context) -> _Outcome:
    if not ctx.has("table"):
        return None  # streams, backups, ...: the generic rules
    tables = _strings(ctx.param("tableName"))
    field = "tableName"
    items = ctx.param("requestItems")
    if not tables and isinstance(items, Mapping):
        tables, field = [str(k) for k in items], "requestItems"
    if not tables:
        tables, field = _nested_table_names(ctx.param("transactItems")), "transactItems"
    if not tables:
        return _Missing("requestParameters has no tableName, requestItems or transactItems")
    index = ctx.param("indexName")
    arns = []
    for table in dict.fromkeys(tables):
        region = account = None
        name = table
        if _arn_fields(table):
            region, account, resource = _from_arn(table)
            name = resource.removeprefix("table/").split("/", 1)[0]
        if isinstance(index, str) and ctx.has("index"):
            arn = ctx.arn("index", TableName=name, IndexName=index, Region=region, Account=account)
        else:
            arn = ctx.arn("table", TableName=name, Region=region, Account=account)
        arns.append(arn)
    if isinstance(index, str) and ctx.has("index"):
        field += "+indexName (an index is authorized on the index ARN)"
    return _Found(tuple(arns), f"requestParameters.{field}")


def _ecr(ctx: _Context) -> _Outcome:
    if not ctx.has("repository"):
        return None
    repo = ctx.param("repositoryName")
    if not isinstance(repo, str):
        return _Missing("requestParameters has no repositoryName")
    registry = ctx.param("registryId")
    registry = registry if isinstance(registry, str) and _ACCOUNT.match(registry) else None
    arn = ctx.arn("repository", RepositoryName=repo, Account=registry)
    how = (
        "requestParameters.registryId+repositoryName"
        if registry
        else "requestParameters.repositoryName"
    )
    return _Found((arn,), how)


def _kms_key(ctx: _Context, value: str) -> str | _Missing:
    """A key ARN from a key id or key ARN; _Missing for an alias (the record must say the key)."""
    fields = _arn_fields(value)
    if fields and fields[5].startswith("key/"):
        return value
    if value.startswith("alias/") or (fields and fields[5].startswith("alias/")):
        return _Missing(f"keyId is an alias ({value}): the record does not name the key")
    if fields:
        return _Missing(f"keyId is not a key ARN: {value}")
    return ctx.arn("key", KeyId=value)


def _kms(ctx: _Context) -> _Outcome:
    name = ctx.info.name.lower()
    if ctx.has("alias"):  # CreateAlias, UpdateAlias, DeleteAlias: the alias and its key
        return _kms_alias(ctx)
    if not ctx.has("key"):
        return None
    if name in {"reencryptfrom", "reencryptto"}:
        # ReEncrypt is authorized twice; resources[] lists both keys, so read the parameter first.
        field = "sourceKeyId" if name == "reencryptfrom" else "destinationKeyId"
        value = ctx.param(field)
        key = _kms_key(ctx, value) if isinstance(value, str) else None
        if isinstance(key, str):
            return _Found((key,), f"requestParameters.{field}")
        listed = ctx.resource_arns("AWS::KMS::Key")
        if len(set(listed)) == 1:
            return _Found(tuple(listed), "resources[] (the only key of the call)")
        return _Missing("the record does not say which key this half of ReEncrypt used", True)
    listed = ctx.resource_arns("AWS::KMS::Key")
    if listed:
        return _Found(tuple(listed), "resources[]")
    value = ctx.param("keyId", "targetKeyId")
    if not isinstance(value, str):
        return _Missing("no key in resources[] and requestParameters has no keyId")
    key = _kms_key(ctx, value)
    if isinstance(key, _Missing):
        return key
    return _Found((key,), "requestParameters.keyId")


def _kms_alias(ctx: _Context) -> _Outcome:
    alias = ctx.param("aliasName")
    arns: list[str] = []
    if isinstance(alias, str) and ctx.has("alias"):
        if _arn_fields(alias):
            arns.append(alias)
        else:
            arns.append(ctx.arn("alias", Alias=alias.removeprefix("alias/")))
    if not arns:
        return _Missing("requestParameters has no aliasName")
    how = "requestParameters.aliasName"
    if ctx.has("key"):
        target = ctx.param("targetKeyId")
        key = _kms_key(ctx, target) if isinstance(target, str) else None
        if isinstance(key, str):
            arns.append(key)
            how += "+targetKeyId"
        elif listed := ctx.resource_arns("AWS::KMS::Key"):
            arns.extend(listed)
            how += "+resources[]"
        else:  # the key half is required too: an alias alone is not the whole answer
            return _Missing("the record does not say which key the alias points to", True)
    return _Found(tuple(arns), how)


def _lambda(ctx: _Context) -> _Outcome:
    if not ctx.has("function"):
        return None
    value = ctx.param("functionName")
    if not isinstance(value, str):
        return _Missing("requestParameters has no functionName")
    region = account = None
    if _arn_fields(value):
        region, account, resource = _from_arn(value)
        rest = resource.removeprefix("function:")
    elif match := _LAMBDA_PARTIAL.match(value):
        account, rest = match.group("account"), match.group("rest")
    else:
        rest = value
    name, _, qualifier = rest.partition(":")
    param_qualifier = ctx.param("qualifier")
    if not qualifier and isinstance(param_qualifier, str):
        qualifier = param_qualifier
    function = f"{name}:{qualifier}" if qualifier else name
    arn = ctx.arn("function", FunctionName=function, Region=region, Account=account)
    how = "requestParameters.functionName"
    if qualifier:
        how += "+qualifier (kept: Lambda authorizes qualified ARNs separately)"
    return _Found((arn,), how)


def _athena(ctx: _Context) -> _Outcome:
    if not ctx.has("workgroup"):
        return None
    group = ctx.param("workGroup")
    if isinstance(group, str):
        return _Found((ctx.arn("workgroup", WorkGroupName=group),), "requestParameters.workGroup")
    if ctx.info.name.lower() in _ATHENA_PRIMARY_DEFAULT:
        return _Found(
            (ctx.arn("workgroup", WorkGroupName="primary"),),
            "requestParameters has no workGroup: the API uses the primary workgroup",
        )
    return _Missing("requestParameters has no workGroup (a query id does not say its workgroup)")


def _kinesis(ctx: _Context) -> _Outcome:
    name = ctx.param("streamName")
    if ctx.has("stream") and isinstance(name, str) and not ctx.param("streamARN"):
        return _Found((ctx.arn("stream", StreamName=name),), "requestParameters.streamName")
    return None


def _firehose(ctx: _Context) -> _Outcome:
    name = ctx.param("deliveryStreamName")
    if ctx.has("deliverystream") and isinstance(name, str):
        arn = ctx.arn("deliverystream", DeliveryStreamName=name)
        return _Found((arn,), "requestParameters.deliveryStreamName")
    return None


def _ecs_name(value: str, kind: str) -> str:
    """The last path part of an ECS ARN (``cluster/NAME`` -> ``NAME``), else the value."""
    if _arn_fields(value):
        resource = value.split(":", 5)[5]
        return resource.removeprefix(f"{kind}/").rsplit("/", 1)[-1]
    return value


def _ecs(ctx: _Context) -> _Outcome:
    cluster_param = ctx.param("cluster")
    cluster = _ecs_name(cluster_param, "cluster") if isinstance(cluster_param, str) else None
    # ECS API reference: "If you do not specify a cluster, the default cluster is assumed."
    in_cluster = "+cluster" if cluster else " (no cluster: the default cluster)"
    cluster = cluster or "default"
    if ctx.has("task-definition"):
        td = ctx.param("taskDefinition")
        if isinstance(td, str):
            if _arn_fields(td):
                return _Found((td,), "requestParameters.taskDefinition")
            family, _, revision = td.partition(":")
            arn = ctx.arn(
                "task-definition",
                TaskDefinitionFamilyName=family,
                TaskDefinitionRevisionNumber=revision or "*",
            )
            how = "requestParameters.taskDefinition"
            return _Found((arn,), how if revision else how + " (no revision: any revision)")
    for kind, singular, plural, placeholder in (
        ("service", "service", "services", "ServiceName"),
        ("task", "task", "tasks", "TaskId"),
        ("container-instance", "containerInstance", "containerInstances", "ContainerInstanceId"),
    ):
        if not ctx.has(kind):
            continue
        field, values = singular, _strings(ctx.param(singular))
        if not values:
            field, values = plural, _strings(ctx.param(plural))
        if values:
            arns = tuple(
                v if _arn_fields(v) else ctx.arn(kind, ClusterName=cluster, **{placeholder: v})
                for v in values
            )
            return _Found(arns, f"requestParameters.{field}{in_cluster}")
    if ctx.has("cluster"):
        names = _strings(ctx.param("clusters"))
        if names:
            arns = tuple(v if _arn_fields(v) else ctx.arn("cluster", ClusterName=v) for v in names)
            return _Found(arns, "requestParameters.clusters")
        arn = ctx.arn("cluster", ClusterName=cluster)
        how = "requestParameters.cluster" if cluster_param else "no cluster: the default cluster"
        return _Found((arn,), how)
    return None


_RULES = {
    "logs": _logs,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "sqs": _sqs,
    "s3": _s3,
    "dynamodb": _dynamodb,
    "ecr": _ecr,
    "kms": _kms,
    "lambda": _lambda,
    "athena": _athena,
    "kinesis": _kinesis,
    "firehose": _firehose,
    "ecs": _ecs,
}


# -- generic rules and the entry point ----------------------------------------------------
