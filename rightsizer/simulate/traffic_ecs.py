"""CloudTrail records of ECS tasks: the launch (ECS assuming both roles, the execution role pulling
the image, reading secrets, creating log streams) and the application's calls with the task role.

Everything a launch does is derived from the service's ACTIVE task definition revision, so the
records name the same repositories, log groups, secrets and parameters as the ECS file.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.clock import expiration
from rightsizer.simulate.model import Account, Container, Role, Service, parameter_arn
from rightsizer.simulate.records import (
    ECS_TASKS,
    Factory,
    Record,
    assumed_role,
    aws_service,
    key_resource,
    role_resource,
)

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
CREDENTIAL_LIFETIME = 6 * 3600
# ECS hands tasks new credentials before the old ones expire: a fresh AssumeRole, same session.
REFRESH_AFTER = CREDENTIAL_LIFETIME - 1800

_ECS_SERVICE = aws_service(ECS_TASKS)
# The Fargate agent's own SDK calls; its exact user agent is not documented.
AGENT_UA = "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) Fargate/1.4.0"
SSM_AGENT_UA = "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) amazon-ssm-agent/3.3.1142.0"
# `exec-env/AWS_ECS_FARGATE` is what marks calls from inside a task.
APP_UA = {
    "java": "aws-sdk-java/2.28.16 Linux/5.10.226-214.880.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/"
    "21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync "
    "http/Apache cfg/retry-mode/standard",
    "python": "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.226-214.880.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE "
    "cfg/retry-mode#legacy Botocore/1.35.36",
    "node": "aws-sdk-js/3.670.0 ua/2.1 os/linux#5.10.226-214.880.amzn2.x86_64 lang/js "
    "md/nodejs#20.18.0 api/{api}#3.670.0 exec-env/AWS_ECS_FARGATE m/E",
    "go": "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 "
    "api/{api}#1.40.0 exec-env/AWS_ECS_FARGATE m/E",
}


@dataclass
class Task:
    task_id: str
    service: Service
    started: int
    execution_identity: dict[str, Any]
    task_identity: dict[str, Any]
    key_issued: int
    counter: int = 0


@dataclass(frozen=True)
class Step:
    """One call of a task launch: seconds after the AssumeRoles, what, and on what."""

    offset: int
    kind: str
    target: Any = None


@dataclass
class ServiceState:
    service: Service
    plan: list[Step]
    tasks: list[Task] = field(default_factory=list)
    app_kinds: list[str] = field(default_factory=list)
    app_cum: list[float] = field(default_factory=list)


def launch_plan(svc: Service, account: Account) -> list[Step]:
    """The calls one launch of `svc`'s active revision makes, in order."""
    rev = svc.active
    steps = [Step(0, "assume_execution"), Step(0, "assume_task")]
    ecr = [c for c in rev.containers if c.ecr_repo]
    if ecr:
        steps.append(Step(1, "ecr_auth"))
    for c in ecr:
        steps.append(Step(2, "ecr_image", c))
        steps.extend(Step(3 + i // 2, "ecr_layer", (c, layer)) for i, layer in enumerate(c.layers))
    for c in rev.containers:
        if c.repository_credentials:
            steps.append(Step(2, "sm_get", c.repository_credentials))
            steps.append(Step(2, "kms_for_sm", c.repository_credentials))
    for c in rev.containers:
        for arn in [*c.environment_files, *([c.firelens_config] if c.firelens_config else [])]:
            steps.append(Step(9, "s3_location", arn))
            steps.append(Step(9, "s3_config", arn))
    sm: list[str] = []
    ssm: list[str] = []
    for c in rev.containers:
        for _, value_from in c.secrets:
            if ":secretsmanager:" in value_from:
                arn = ":".join(value_from.split(":")[:7])  # drop json-key:stage:version
                if arn not in sm:
                    sm.append(arn)
            elif value_from not in ssm:
                ssm.append(value_from)
    for arn in sm:
        steps.append(Step(10, "sm_get", arn))
        steps.append(Step(10, "kms_for_sm", arn))
    if ssm:
        steps.append(Step(10, "ssm_get", tuple(ssm)))
        for value_from in ssm:
            arn = parameter_arn(value_from, svc.region, account.account_id)
            if arn in account.secure_parameters:
                steps.append(Step(10, "kms_for_ssm", arn))
    for c in rev.containers:
        if c.log_driver == "awslogs" and c.log_group:
            if c.create_group:
                steps.append(Step(14, "logs_group", c.log_group))
            steps.append(Step(15, "logs_stream", c))
    for c in rev.containers:
        if c.log_driver == "awsfirelens":
            steps.append(Step(25, "firelens_stream", c))
    if svc.exec_enabled:
        steps.append(Step(30, "exec_channel"))
    return steps


class EcsTraffic:
    def __init__(self, account: Account, factory: Factory, rng: random.Random) -> None:
        self.account = account
        self.acct = account.account_id
        self.f = factory
        self.rng = rng
        # Stretched by the engine when the event budget is too small for real refresh rates.
        self.refresh_after = REFRESH_AFTER
        self.states = [ServiceState(svc, launch_plan(svc, account)) for svc in account.services]
        for state in self.states:
            kinds = state.service.actions
            state.app_kinds = [k for k, _ in kinds]
            state.app_cum = list(accumulate(w for _, w in kinds))
        self._origins: dict[tuple[str, str], tuple[str, str, str | None]] = {}
        self._app_calls: dict[str, Callable[[Task, int], Record]] = {
            "s3_get": self.s3_get,
            "s3_put": self.s3_put,
            "s3_head": self.s3_head,
            "s3_list": self.s3_list,
            "s3_delete_denied": self.s3_delete_denied,
            "ddb_get": self.ddb_get,
            "ddb_put": self.ddb_put,
            "ddb_query": self.ddb_query,
            "sqs_send": self.sqs_send,
            "sqs_receive": self.sqs_receive,
            "sqs_delete": self.sqs_delete,
            "sns_publish": self.sns_publish,
            "kms_gdk": self.kms_generate_data_key,
            "kms_decrypt": self.kms_decrypt,
            "sm_get": self.sm_get_app,
            "ec2_denied": self.ec2_denied,
        }

    # -- bookkeeping

    @property
    def lifetime(self) -> int:
        return max(CREDENTIAL_LIFETIME, self.refresh_after + 1800)

    def _session(self, role: Role, task_id: str, sec: int) -> tuple[str, dict[str, Any]]:
        key = ids.access_key(self.rng)
        return key, assumed_role(role, task_id, key, self.f.clock.iso(sec))

    def start_task(self, state: ServiceState, started: int, key_issued: int) -> Task:
        """A task's state without records: for tasks already running when the window opens."""
        svc = state.service
        task_id = ids.hex_id(self.rng, 32)
        _, exec_ident = self._session(svc.execution_role, task_id, started)
        _, task_ident = self._session(svc.task_role, task_id, key_issued)
        return Task(task_id, svc, started, exec_ident, task_ident, key_issued)

    # -- launch

    def assume_role(self, role: Role, task_id: str, key: str, sec: int, region: str) -> Record:
        sts_arn = f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{task_id}"
        return self.f.record(
            _ECS_SERVICE, sec, "sts.amazonaws.com", "AssumeRole", region, ECS_TASKS, ECS_TASKS,
            {"roleArn": role.arn, "roleSessionName": task_id},
            {
                # CloudTrail never logs the secret access key, only the key ID and token.
                "credentials": {
                    "accessKeyId": key,
                    "sessionToken": ids.session_token(self.rng),
                    "expiration": expiration(sec + self.lifetime),
                },
                "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{task_id}", "arn": sts_arn},
            },
            read_only=True, recipient=role.account, resources=role_resource(role), shared=True,
        )  # fmt: skip

    def launch(self, state: ServiceState, sec: int) -> tuple[Task, list[tuple[int, Record]]]:
        """A new task: its records in order, and the task to add to the running set."""
        svc = state.service
        region = svc.region
        task_id = ids.hex_id(self.rng, 32)
        exec_key, exec_ident = self._session(svc.execution_role, task_id, sec)
        task_key, task_ident = self._session(svc.task_role, task_id, sec)
        task = Task(task_id, svc, sec, exec_ident, task_ident, sec)
        out: list[tuple[int, Record]] = []
        for step in state.plan:
            t = sec + step.offset
            if step.kind == "assume_execution":
                rec = self.assume_role(svc.execution_role, task_id, exec_key, t, region)
            elif step.kind == "assume_task":
                rec = self.assume_role(svc.task_role, task_id, task_key, t, region)
            else:
                rec = _LAUNCH_STEPS[step.kind](self, task, step.target, t)
            out.append((t, rec))
        return task, out

    def refresh(self, task: Task, sec: int) -> Record:
        """New task-role credentials for a long-running task."""
        svc = task.service
        key, task.task_identity = self._session(svc.task_role, task.task_id, sec)
        task.key_issued = sec
        return self.assume_role(svc.task_role, task.task_id, key, sec, svc.region)

    def _exec_call(
        self, task: Task, sec: int, source: str, name: str, request: dict[str, Any], **kw: Any
    ) -> Record:
        svc = task.service
        ip = kw.pop("ip", svc.egress_ip)
        return self.f.record(
            task.execution_identity, sec, source, name, svc.region, ip, kw.pop("agent", AGENT_UA),
            request, None, recipient=self.acct, **kw,
        )  # fmt: skip

    def ecr_auth(self, task: Task, _: Any, sec: int) -> Record:
        return self._exec_call(
            task, sec, "ecr.amazonaws.com", "GetAuthorizationToken",
            {"registryIds": [self.acct]}, read_only=True,
        )  # fmt: skip

    def _repo_resource(self, task: Task, c: Container) -> list[dict[str, str]]:
        arn = f"arn:aws:ecr:{task.service.region}:{self.acct}:repository/{c.ecr_repo}"
        return [{"accountId": self.acct, "ARN": arn}]

    def ecr_image(self, task: Task, c: Container, sec: int) -> Record:
        ref = c.image.rsplit("/", 1)[1]
        image_id = (
            {"imageDigest": ref.split("@", 1)[1]} if "@" in ref else {"imageTag": ref.split(":")[1]}
        )
        return self._exec_call(
            task, sec, "ecr.amazonaws.com", "BatchGetImage",
            {
                "registryId": self.acct,
                "repositoryName": c.ecr_repo,
                "imageIds": [image_id],
                "acceptedMediaTypes": [
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                ],
            },
            read_only=True, resources=self._repo_resource(task, c),
        )  # fmt: skip

    def ecr_layer(self, task: Task, target: tuple[Container, str], sec: int) -> Record:
        c, layer = target
        # Layer downloads sometimes show "AWS Internal" as their source.
        internal = self.rng.random() < 0.3
        return self._exec_call(
            task, sec, "ecr.amazonaws.com", "GetDownloadUrlForLayer",
            {"registryId": self.acct, "repositoryName": c.ecr_repo, "layerDigest": layer},
            read_only=True, resources=self._repo_resource(task, c),
            ip="AWS Internal" if internal else task.service.egress_ip,
            agent="AWS Internal" if internal else AGENT_UA,
        )  # fmt: skip

    def sm_get_exec(self, task: Task, arn: str, sec: int) -> Record:
        return self._exec_call(
            task, sec, "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": arn},
            read_only=True, ip=ECS_TASKS, agent=ECS_TASKS,
        )  # fmt: skip

    def _forward_decrypt(
        self, task: Task, sec: int, via: str, context: dict[str, str]
    ) -> Record:
        """KMS Decrypt a service makes with the role's identity (a forward access session)."""
        svc = task.service
        ident = {**task.execution_identity, "invokedBy": via}
        key = self.account.kms_keys[(svc.region, "secrets")]
        ip = via if via.endswith(".amazonaws.com") else "AWS Internal"
        return self.f.record(
            ident, sec, "kms.amazonaws.com", "Decrypt", svc.region, ip, ip,
            {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, None,
            read_only=True, recipient=self.acct, resources=key_resource(self.acct, key),
        )  # fmt: skip

    def kms_for_sm(self, task: Task, arn: str, sec: int) -> Record:
        context = {"SecretARN": arn, "SecretVersionId": ids.uuid4(self.rng)}
        return self._forward_decrypt(task, sec, "secretsmanager.amazonaws.com", context)

    def kms_for_ssm(self, task: Task, arn: str, sec: int) -> Record:
        # Real SSM-driven decrypts read "AWS Internal" (invictus-aws_dataset, 2023-07-10).
        return self._forward_decrypt(task, sec, "AWS Internal", {"PARAMETER_ARN": arn})

    def ssm_get(self, task: Task, values: tuple[str, ...], sec: int) -> Record:
        svc = task.service
        arns = [parameter_arn(v, svc.region, self.acct) for v in values]
        names = [v.split(":parameter", 1)[1] if v.startswith("arn:") else v for v in values]
        return self._exec_call(
            task, sec, "ssm.amazonaws.com", "GetParameters",
            {"names": names, "withDecryption": True},
            read_only=True, resources=[{"accountId": self.acct, "ARN": a} for a in arns],
            ip=ECS_TASKS, agent=ECS_TASKS,
        )  # fmt: skip

    def _s3_exec(self, task: Task, arn: str, sec: int, name: str) -> Record:
        bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
        host = f"{bucket}.s3.{task.service.region}.amazonaws.com"
        if name == "GetBucketLocation":
            request = {"bucketName": bucket, "Host": host, "location": ""}
            resources = [{"accountId": self.acct, "type": "AWS::S3::Bucket",
                          "ARN": f"arn:aws:s3:::{bucket}"}]  # fmt: skip
        else:
            request = {"bucketName": bucket, "Host": host, "key": key}
            resources = _object_resources(self.acct, bucket, key)
        return self._exec_call(
            task, sec, "s3.amazonaws.com", name, request, read_only=True,
            data=name == "GetObject", resources=resources, tls_host=host,
            additional=self._s3_additional(0, self.rng.randrange(200, 4000)),
            request_id=self.f.s3_request_id(),
        )  # fmt: skip

    def s3_location(self, task: Task, arn: str, sec: int) -> Record:
        return self._s3_exec(task, arn, sec, "GetBucketLocation")

    def s3_config(self, task: Task, arn: str, sec: int) -> Record:
        return self._s3_exec(task, arn, sec, "GetObject")

    def logs_group(self, task: Task, group: str, sec: int) -> Record:
        # awslogs-create-group makes the agent try CreateLogGroup on every launch.
        return self._exec_call(
            task, sec, "logs.amazonaws.com", "CreateLogGroup", {"logGroupName": group},
            read_only=False,
            error=("ResourceAlreadyExistsException", "The specified log group already exists"),
        )  # fmt: skip

    def logs_stream(self, task: Task, c: Container, sec: int) -> Record:
        stream = f"{c.log_prefix}/{c.name}/{task.task_id}"
        return self._exec_call(
            task, sec, "logs.amazonaws.com", "CreateLogStream",
            {"logGroupName": c.log_group, "logStreamName": stream}, read_only=False,
        )  # fmt: skip

    def firelens_stream(self, task: Task, c: Container, sec: int) -> Record:
        """Fluent Bit's cloudwatch_logs output creates its stream with the task role."""
        svc = task.service
        return self.f.record(
            task.task_identity, sec, "logs.amazonaws.com", "CreateLogStream", svc.region,
            svc.egress_ip, "aws-fluent-bit-plugin",
            {"logGroupName": f"/ecs/{svc.family}/app",
             "logStreamName": f"{c.name}/{c.name}-firelens-{task.task_id}"},
            None, read_only=False, recipient=self.acct,
        )  # fmt: skip

    def exec_channel(self, task: Task, _: Any, sec: int) -> Record:
        """ECS Exec: the SSM agent in the task opens its control channel with the task role."""
        svc = task.service
        channel = f"ecs:{svc.cluster}_{task.task_id}_{task.task_id}-{self.rng.randrange(10**10)}"
        arn = f"arn:aws:ssmmessages:{svc.region}:{self.acct}:control-channel/{channel}"
        return self.f.record(
            task.task_identity, sec, "ssmmessages.amazonaws.com", "CreateControlChannel",
            svc.region, svc.egress_ip, SSM_AGENT_UA,
            {"channelId": channel, "messageSchemaVersion": "1.0",
             "requestId": ids.uuid4(self.rng)},
            {"messageSchemaVersion": "1.0", "tokenValue": HIDDEN}, read_only=False,
            recipient=self.acct, data=True,
            resources=[{"accountId": self.acct, "type": "AWS::SSMMessages::ControlChannel",
                        "ARN": arn}],
        )  # fmt: skip

    # -- application calls with the task role

    def app_call(self, state: ServiceState, sec: int) -> tuple[Task, list[tuple[int, Record]]]:
        """One call from a running task of `state` (plus a credential refresh if it is due)."""
        tasks = state.tasks
        task = tasks[int(self.rng.random() * len(tasks))]
        sec = max(sec, task.started + 20)
        out: list[tuple[int, Record]] = []
        if sec - task.key_issued >= self.refresh_after:
            out.append((sec, self.refresh(task, sec)))
        i = bisect(state.app_cum, self.rng.random() * state.app_cum[-1])
        kind = state.app_kinds[min(i, len(state.app_kinds) - 1)]
        out.append((sec, self.call(task, kind, sec)))
        return task, out

    def call(self, task: Task, kind: str, sec: int) -> Record:
        task.counter += 1
        return self._app_calls[kind](task, sec)

    def _origin(self, svc: Service, source: str) -> tuple[str, str, str | None]:
        """(user agent, source IP, VPC endpoint) of the app's calls to `source`; cached."""
        key = (svc.family, source)
        found = self._origins.get(key)
        if found is None:
            api = source.split(".", 1)[0]
            agent = APP_UA[svc.archetype.lang].replace("{api}", api)
            ip, vpce = svc.egress_ip, None
            if svc.vpc_endpoint and api in ("s3", "dynamodb"):
                ip, vpce = svc.private_ip, svc.vpc_endpoint  # through the gateway endpoint
            if api == "s3":
                agent = f"[{agent}]"  # S3 data events bracket the user agent
            found = (agent, ip, vpce)
            self._origins[key] = found
        return found

    def _app(
        self,
        task: Task,
        sec: int,
        source: str,
        name: str,
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
        **kw: Any,
    ) -> Record:
        svc = task.service
        agent, ip, vpce = self._origin(svc, source)
        return self.f.record(
            task.task_identity, sec, source, name, svc.region, ip, agent, request, response,
            recipient=self.acct, vpce=vpce, **kw,
        )  # fmt: skip

    def _s3_additional(self, bytes_in: int, bytes_out: int) -> dict[str, Any]:
        return {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": bytes_in,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": self.f.amz_id_2(),
            "bytesTransferredOut": bytes_out,
        }

    def _s3_object(
        self, task: Task, sec: int, name: str, key: str, *, read_only: bool, **kw: Any
    ) -> Record:
        bucket = task.service.bucket or ""
        host = f"{bucket}.s3.{task.service.region}.amazonaws.com"
        size = 300 + int(self.rng.random() * 2_000_000)
        is_put = name == "PutObject"
        failed = "error" in kw
        return self._app(
            task, sec, "s3.amazonaws.com", name,
            {"bucketName": bucket, "Host": host, "key": key},
            {"x-amz-server-side-encryption": "AES256"} if is_put and not failed else None,
            read_only=read_only, data=True, tls_host=host,
            additional=self._s3_additional(
                size if is_put else 0, 0 if is_put or failed else size
            ),
            request_id=self.f.s3_request_id(),
            resources=_object_resources(self.acct, bucket, key), **kw,
        )  # fmt: skip

    def s3_get(self, task: Task, sec: int) -> Record:
        return self._s3_object(task, sec, "GetObject", self.s3_key(task, sec, "get"),
                               read_only=True)  # fmt: skip

    def s3_head(self, task: Task, sec: int) -> Record:
        return self._s3_object(task, sec, "HeadObject", self.s3_key(task, sec, "get"),
                               read_only=True)  # fmt: skip

    def s3_put(self, task: Task, sec: int) -> Record:
        return self._s3_object(task, sec, "PutObject", self.s3_key(task, sec, "put"),
                               read_only=False)  # fmt: skip

    def s3_delete_denied(self, task: Task, sec: int) -> Record:
        key = self.s3_key(task, sec, "get")
        bucket = task.service.bucket
        sts_arn = task.task_identity["arn"]
        message = (
            f"User: {sts_arn} is not authorized to perform: s3:DeleteObject on resource: "
            f'"arn:aws:s3:::{bucket}/{key}" because no identity-based policy allows the '
            "s3:DeleteObject action"
        )
        return self._s3_object(task, sec, "DeleteObject", key, read_only=False,
                               error=("AccessDenied", message))  # fmt: skip

    def s3_list(self, task: Task, sec: int) -> Record:
        svc = task.service
        bucket = svc.bucket or ""
        host = f"{bucket}.s3.{svc.region}.amazonaws.com"
        prefix = self.s3_key(task, sec, "list")
        return self._app(
            task, sec, "s3.amazonaws.com", "ListObjects",
            {"list-type": "2", "bucketName": bucket, "encoding-type": "url", "prefix": prefix,
             "Host": host},
            None, read_only=True, data=True, tls_host=host,
            additional=self._s3_additional(0, self.rng.randrange(500, 60_000)),
            request_id=self.f.s3_request_id(),
            resources=[{"accountId": self.acct, "type": "AWS::S3::Bucket",
                        "ARN": f"arn:aws:s3:::{bucket}"}],
        )  # fmt: skip

    def s3_key(self, task: Task, sec: int, op: str) -> str:
        return S3_KEYS[task.service.archetype.key_style](self.rng, task, self.f.clock.iso(sec), op)

    def _ddb(self, task: Task, sec: int, name: str, request: dict[str, Any], ro: bool) -> Record:
        svc = task.service
        arn = f"arn:aws:dynamodb:{svc.region}:{self.acct}:table/{svc.table}"
        return self._app(
            task, sec, "dynamodb.amazonaws.com", name, request, None, read_only=ro, data=True,
            request_id=ids.text(self.rng, 52, ids.BASE32),
            resources=[{"accountId": self.acct, "type": "AWS::DynamoDB::Table", "ARN": arn}],
        )  # fmt: skip

    def ddb_get(self, task: Task, sec: int) -> Record:
        return self._ddb(task, sec, "GetItem",
                         {"tableName": task.service.table, "key": {"pk": HIDDEN},
                          "consistentRead": False}, True)  # fmt: skip

    def ddb_put(self, task: Task, sec: int) -> Record:
        return self._ddb(task, sec, "PutItem",
                         {"tableName": task.service.table, "key": {"pk": HIDDEN, "sk": HIDDEN}},
                         False)  # fmt: skip

    def ddb_query(self, task: Task, sec: int) -> Record:
        return self._ddb(task, sec, "Query",
                         {"tableName": task.service.table, "indexName": "by-status",
                          "keyConditionExpression": "#s = :s", "limit": 100}, True)  # fmt: skip

    def _sqs(self, task: Task, sec: int, name: str, request: dict[str, Any],
             response: dict[str, Any] | None, ro: bool) -> Record:  # fmt: skip
        svc = task.service
        arn = f"arn:aws:sqs:{svc.region}:{self.acct}:{svc.queue}"
        return self._app(
            task, sec, "sqs.amazonaws.com", name,
            {"queueUrl": f"https://sqs.{svc.region}.amazonaws.com/{self.acct}/{svc.queue}",
             **request},
            response, read_only=ro, data=True,
            resources=[{"accountId": self.acct, "type": "AWS::SQS::Queue", "ARN": arn}],
        )  # fmt: skip

    def sqs_send(self, task: Task, sec: int) -> Record:
        return self._sqs(task, sec, "SendMessage", {"messageBody": HIDDEN},
                         {"mD5OfMessageBody": ids.hex_id(self.rng, 32),
                          "messageId": ids.uuid4(self.rng)}, False)  # fmt: skip

    def sqs_receive(self, task: Task, sec: int) -> Record:
        return self._sqs(task, sec, "ReceiveMessage",
                         {"maxNumberOfMessages": 10, "waitTimeSeconds": 20,
                          "messageSystemAttributeNames": ["All"]}, None, True)  # fmt: skip

    def sqs_delete(self, task: Task, sec: int) -> Record:
        return self._sqs(task, sec, "DeleteMessage", {"receiptHandle": HIDDEN}, None, False)

    def sns_publish(self, task: Task, sec: int) -> Record:
        svc = task.service
        arn = f"arn:aws:sns:{svc.region}:{self.acct}:{svc.topic}"
        return self._app(
            task, sec, "sns.amazonaws.com", "Publish", {"topicArn": arn, "message": HIDDEN},
            {"messageId": ids.uuid4(self.rng)}, read_only=False, data=True,
            resources=[{"accountId": self.acct, "type": "AWS::SNS::Topic", "ARN": arn}],
        )  # fmt: skip

    def _kms(self, task: Task, sec: int, name: str, request: dict[str, Any]) -> Record:
        svc = task.service
        key = self.account.kms_keys[(svc.region, "app")]
        return self._app(
            task, sec, "kms.amazonaws.com", name,
            {**request, "encryptionContext": {"service": svc.family}}, None,
            read_only=True, resources=key_resource(self.acct, key),
        )  # fmt: skip

    def kms_generate_data_key(self, task: Task, sec: int) -> Record:
        key = self.account.kms_keys[(task.service.region, "app")]
        return self._kms(task, sec, "GenerateDataKey", {"keyId": key, "keySpec": "AES_256"})

    def kms_decrypt(self, task: Task, sec: int) -> Record:
        return self._kms(task, sec, "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})

    def sm_get_app(self, task: Task, sec: int) -> Record:
        return self._app(
            task, sec, "secretsmanager.amazonaws.com", "GetSecretValue",
            {"secretId": task.service.app_secret}, None, read_only=True,
        )  # fmt: skip

    def ec2_denied(self, task: Task, sec: int) -> Record:
        sts_arn = task.task_identity["arn"]
        message = (
            f"You are not authorized to perform this operation. User: {sts_arn} is not authorized"
            " to perform: ec2:DescribeInstances because no identity-based policy allows the "
            "ec2:DescribeInstances action"
        )
        return self._app(
            task, sec, "ec2.amazonaws.com", "DescribeInstances",
            {"instancesSet": {}, "filterSet": {}}, None, read_only=True,
            error=("Client.UnauthorizedOperation", message),
        )  # fmt: skip


def _object_resources(account: str, bucket: str, key: str) -> list[dict[str, str]]:
    return [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
        {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
    ]


_LAUNCH_STEPS: dict[str, Callable[[EcsTraffic, Task, Any, int], Record]] = {
    "ecr_auth": EcsTraffic.ecr_auth,
    "ecr_image": EcsTraffic.ecr_image,
    "ecr_layer": EcsTraffic.ecr_layer,
    "sm_get": EcsTraffic.sm_get_exec,
    "kms_for_sm": EcsTraffic.kms_for_sm,
    "kms_for_ssm": EcsTraffic.kms_for_ssm,
    "ssm_get": EcsTraffic.ssm_get,
    "s3_location": EcsTraffic.s3_location,
    "s3_config": EcsTraffic.s3_config,
    "logs_group": EcsTraffic.logs_group,
    "logs_stream": EcsTraffic.logs_stream,
    "firelens_stream": EcsTraffic.firelens_stream,
    "exec_channel": EcsTraffic.exec_channel,
}


# --- S3 object keys: a few prefixes per kind of service, with dates and task IDs ------------


def _receipts(rng: random.Random, task: Task, iso: str, op: str) -> str:
    return f"receipts/{iso[:10]}/{ids.uuid4(rng)}.json"


def _settlements(rng: random.Random, task: Task, iso: str, op: str) -> str:
    y, m, d = iso[:10].split("-")
    return f"settlements/{y}/{m}/{d}/{task.task_id}-{task.counter:05d}.parquet"


def _datalake(rng: random.Random, task: Task, iso: str, op: str) -> str:
    day = iso[:10]
    if op == "list":
        return f"raw/events/dt={day}/"
    if op == "put":
        return f"reports/daily/{day}/summary-{task.task_id[:8]}.csv"
    return f"raw/events/dt={day}/part-{rng.randrange(64):05d}.snappy.parquet"


_ASSETS = ("assets/js/app.{h}.js", "assets/css/main.{h}.css", "assets/img/logo-{n}.png",
           "templates/email/welcome-{n}.html")  # fmt: skip


def _assets(rng: random.Random, task: Task, iso: str, op: str) -> str:
    template = rng.choice(_ASSETS)
    return template.format(h=ids.hex_id(rng, 8), n=rng.randrange(12))


def _ingest(rng: random.Random, task: Task, iso: str, op: str) -> str:
    return f"incoming/{iso[:10]}/{task.task_id}/batch-{task.counter:06d}.json.gz"


S3_KEYS: dict[str, Callable[[random.Random, Task, str, str], str]] = {
    "receipts": _receipts,
    "settlements": _settlements,
    "datalake": _datalake,
    "assets": _assets,
    "ingest": _ingest,
    "none": _receipts,
}
