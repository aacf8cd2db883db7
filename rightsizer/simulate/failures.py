"""Services that fail to start, for ``simulate --failures``: what ``rightsizer explain`` is for.

Each is a family of its own, in the home region, whose tasks never run: ECS tries a few times in
the last days of the window, CloudTrail records each try, and ``ecs/stopped-tasks.json`` holds
the ``describe-tasks`` output of the stopped tasks. Their roles and task definitions join the
IAM and ECS files, consistent with the failures:

- ``broken-ecr``: the execution role has no ``ecr:BatchGetImage`` (a missing ECR permission):
  ``BatchGetImage`` AccessDenied, ``CannotPullContainerError``;
- ``broken-trust``: the execution role trusts ``ec2.amazonaws.com`` (a wrong trust principal):
  ECS's ``AssumeRole`` fails, "ECS was unable to assume the role";
- ``broken-kms``: the secret is encrypted with a customer managed key the execution role may not
  use (a KMS key without grant): ``kms:Decrypt`` AccessDenied, made by Secrets Manager for the
  role, ``ResourceInitializationError``;
- ``broken-xacct``: the image is in another account's repository, whose repository policy does
  not allow the role (a cross-account repository without policy): the role's own policy allows
  the pull, ``BatchGetImage`` AccessDenied all the same.

The messages follow AWS's documented forms (``rightsizer/iam/data/ecs_failures.csv`` cites
them). Deterministic for the rng given; nothing here touches the rest of the account's traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from rightsizer.simulate import ids
from rightsizer.simulate.clock import Clock
from rightsizer.simulate.model import (
    ARCHETYPES,
    DAY,
    HOME_REGION,
    Account,
    Container,
    Revision,
    Role,
    Service,
    allow,
    statement_doc,
)
from rightsizer.simulate.records import Factory, Record, assumed_role, aws_service, key_resource

__all__ = ["FAILING_FAMILIES", "Failing", "add_failing_services"]

FAILING_FAMILIES = ("broken-ecr", "broken-trust", "broken-kms", "broken-xacct")
ECS_TASKS = "ecs-tasks.amazonaws.com"
_AGENT = "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) Fargate/1.4.0"
_TRIES = 3  # tasks ECS starts, and sees stop, per failing service


@dataclass
class Failing:
    """The failing services, their records (epoch second, record) and stopped tasks."""

    services: list[Service]
    records: list[tuple[int, Record]]
    stopped_tasks: list[dict[str, Any]]
    other_account: str

    def serialized(self, stream: int) -> list[tuple[int, int, bytes]]:
        return sorted((sec, stream, orjson.dumps(rec)) for sec, rec in self.records)


def add_failing_services(account: Account, rng: random.Random, end: int) -> Failing:
    """Add the failing services' roles to ``account.roles``; return the services (kept out of
    ``account.services``, so the traffic engine never launches them), their records in the last
    days before ``end``, and the stopped tasks."""
    builder = _Failures(account, rng, end)
    for family in FAILING_FAMILIES:
        builder.service(family)
    return Failing(builder.services, sorted(builder.records, key=lambda r: r[0]),
                   builder.stopped, builder.other_account)


class _Failures:
    def __init__(self, account: Account, rng: random.Random, end: int) -> None:
        self.account = account
        self.acct = account.account_id
        self.rng = rng
        self.end = end
        self.region = HOME_REGION
        self.cluster = "prod"
        self.factory = Factory(rng, Clock())
        self.other_account = str(rng.randrange(10**11, 10**12))
        self.services: list[Service] = []
        self.records: list[tuple[int, Record]] = []
        self.stopped: list[dict[str, Any]] = []

    # -- the model

    def _role(self, name: str, trust_service: str, inline: list[tuple[str, Any]]) -> Role:
        trust: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": trust_service},
                                 "Action": "sts:AssumeRole"}
        if trust_service == ECS_TASKS:
            trust["Condition"] = {
                "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{self.region}:{self.acct}:*"},
                "StringEquals": {"aws:SourceAccount": self.acct}}
        role = Role(name=name, path="/", role_id=ids.unique_id(self.rng, "AROA"),
                    account=self.acct, kind="execution", trust=statement_doc(trust),
                    created=self.end - 5 * DAY, inline=inline,
                    tags=[{"Key": "service", "Value": name.rsplit("-", 1)[0]}])
        self.account.roles.append(role)
        return role

    def service(self, family: str) -> None:
        region, acct = self.region, self.acct
        group = f"/ecs/{family}"
        streams = f"arn:aws:logs:{region}:{acct}:log-group:{group}:log-stream:ecs/{family}/*"
        own_repo = f"arn:aws:ecr:{region}:{acct}:repository/{family}"
        image = f"{acct}.dkr.ecr.{region}.amazonaws.com/{family}:1.0.0"
        repo_arn, secrets = own_repo, []
        statements = [allow("ecr:GetAuthorizationToken", "*", "RegistryLogin"),
                      allow(["logs:CreateLogStream", "logs:PutLogEvents"], streams, "Logs")]
        pulls = allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], own_repo, "Pull")
        trust = ECS_TASKS
        if family == "broken-ecr":
            pass  # the pull statement is the one missing
        elif family == "broken-trust":
            statements.append(pulls)
            trust = "ec2.amazonaws.com"
        elif family == "broken-kms":
            statements.append(pulls)
            secret = (f"arn:aws:secretsmanager:{region}:{acct}:secret:{family}/db-"
                      f"{ids.secret_suffix(self.rng)}")
            secrets = [("DB_PASSWORD", secret)]
            statements.append(allow("secretsmanager:GetSecretValue", secret, "Secret"))
        elif family == "broken-xacct":
            repo_arn = (f"arn:aws:ecr:{region}:{self.other_account}:repository/platform/"
                        "base-image")
            image = f"{self.other_account}.dkr.ecr.{region}.amazonaws.com/platform/base-image:2.1"
            statements.append(allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                                    f"arn:aws:ecr:{region}:{self.other_account}:repository/"
                                    "platform/*", "PullPlatformImages"))
        role = self._role(f"{family}-execution", trust,
                          [("execution", statement_doc(*statements))])
        container = Container(name=family, image=image,
                              ecr_repo=repo_arn.split(":repository/", 1)[1], log_group=group,
                              secrets=secrets, port=8080,
                              environment=[("AWS_REGION", region)])
        svc = Service(
            family=family, archetype=ARCHETYPES[0], region=region, cluster=self.cluster,
            task_role=role, execution_role=role,
            revisions=[Revision(number=1, status="ACTIVE", task_role_ref="",
                                execution_role_ref=role.arn, containers=[container], cpu="256",
                                memory="512", registered=self.end - 3 * DAY)],
            launches_per_day=0.0, app_weight=0.0, max_tasks=1, bucket=None, table=None,
            queue=None, topic=None, app_secret=None, egress_ip="203.0.113.10",
            private_ip="10.0.9.10")
        self.services.append(svc)
        for attempt in range(_TRIES):
            sec = self.end - (2 * DAY) + attempt * 6 * 3600 + self.rng.randrange(3600)
            self._try(svc, role, container, repo_arn, sec)

    # -- one try to start a task

    def _try(self, svc: Service, role: Role, container: Container, repo_arn: str,
             sec: int) -> None:
        task_id = ids.hex_id(self.rng, 32)
        family = svc.family
        ident = assumed_role(role, task_id, ids.access_key(self.rng), self.factory.clock.iso(sec))
        sts_arn = ident["arn"]
        if family == "broken-trust":
            message = (f"{ECS_TASKS} is not authorized to perform: sts:AssumeRole on resource: "
                       f"{role.arn}")
            self._add(sec, self.factory.record(
                aws_service(ECS_TASKS), sec, "sts.amazonaws.com", "AssumeRole", self.region,
                ECS_TASKS, ECS_TASKS, {"roleArn": role.arn, "roleSessionName": task_id}, None,
                read_only=True, recipient=self.acct, error=("AccessDenied", message)))
            reason = (f"ECS was unable to assume the role '{role.arn}' that was provided for "
                      "this task. Please verify that the role being passed has the proper trust "
                      "relationship and permissions and that your IAM user has permissions to "
                      "pass this role.")
            self._stopped(svc, task_id, sec + 5, reason)
            return
        self._add(sec, self.factory.record(
            aws_service(ECS_TASKS), sec, "sts.amazonaws.com", "AssumeRole", self.region,
            ECS_TASKS, ECS_TASKS, {"roleArn": role.arn, "roleSessionName": task_id},
            {"assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{task_id}", "arn": sts_arn}},
            read_only=True, recipient=self.acct,
            resources=[{"accountId": self.acct, "type": "AWS::IAM::Role", "ARN": role.arn}],
            shared=True))
        self._add(sec + 1, self._call(ident, sec + 1, "ecr.amazonaws.com",
                                      "GetAuthorizationToken", {"registryIds": [self.acct]}))
        if family == "broken-kms":
            key = self.account.kms_keys[(self.region, "secrets")]
            secret = container.secrets[0][1]
            self._add(sec + 2, self._call(ident, sec + 2, "ecr.amazonaws.com", "BatchGetImage",
                                          self._image_request(repo_arn, container)))
            message = (f"User: {sts_arn} is not authorized to perform: kms:Decrypt on resource: "
                       f"{key} because no identity-based policy allows the kms:Decrypt action")
            via = {**ident, "invokedBy": "secretsmanager.amazonaws.com"}
            self._add(sec + 3, self.factory.record(
                via, sec + 3, "kms.amazonaws.com", "Decrypt", self.region,
                "secretsmanager.amazonaws.com", "secretsmanager.amazonaws.com",
                {"encryptionContext": {"SecretARN": secret, "SecretVersionId": ids.uuid4(
                    self.rng)}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, None,
                read_only=True, recipient=self.acct, resources=key_resource(self.acct, key),
                error=("AccessDenied", message)))
            reason = ("ResourceInitializationError: unable to pull secrets or registry auth: "
                      "execution resource retrieval failed: unable to retrieve secret from asm: "
                      "service call has been retried 1 time(s): AccessDeniedException: Access "
                      "to KMS is not allowed. status code: 400")
            self._stopped(svc, task_id, sec + 5, reason)
            return
        why = ("no resource-based policy allows" if family == "broken-xacct"
               else "no identity-based policy allows")
        message = (f"User: {sts_arn} is not authorized to perform: ecr:BatchGetImage on "
                   f"resource: {repo_arn} because {why} the ecr:BatchGetImage action")
        self._add(sec + 2, self._call(ident, sec + 2, "ecr.amazonaws.com", "BatchGetImage",
                                      self._image_request(repo_arn, container),
                                      error=("AccessDenied", message)))
        reason = (f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                  f"failed to resolve ref {container.image}: AccessDeniedException: {message}")
        self._stopped(svc, task_id, sec + 5, reason)

    def _image_request(self, repo_arn: str, container: Container) -> dict[str, Any]:
        parts = repo_arn.split(":")
        return {"registryId": parts[4], "repositoryName": container.ecr_repo,
                "imageIds": [{"imageTag": container.image.rsplit(":", 1)[1]}]}

    def _call(self, ident: dict[str, Any], sec: int, source: str, name: str,
              request: dict[str, Any], error: tuple[str, str] | None = None) -> Record:
        return self.factory.record(ident, sec, source, name, self.region, "203.0.113.10",
                                   _AGENT, request, None, read_only=True, recipient=self.acct,
                                   error=error)

    def _add(self, sec: int, record: Record) -> None:
        self.records.append((sec, record))

    def _stopped(self, svc: Service, task_id: str, sec: int, reason: str) -> None:
        rev = svc.revisions[-1]
        cluster_arn = f"arn:aws:ecs:{self.region}:{self.acct}:cluster/{self.cluster}"
        container = rev.containers[0]
        self.stopped.append({
            "taskArn": f"arn:aws:ecs:{self.region}:{self.acct}:task/{self.cluster}/{task_id}",
            "clusterArn": cluster_arn,
            "taskDefinitionArn": (f"arn:aws:ecs:{self.region}:{self.acct}:task-definition/"
                                  f"{svc.family}:{rev.number}"),
            "group": f"service:{svc.family}",
            "launchType": "FARGATE",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "stopCode": "TaskFailedToStart",
            "stoppedReason": reason,
            "stoppedAt": self.factory.clock.iso(sec),
            "containers": [{"name": container.name, "image": container.image,
                            "lastStatus": "STOPPED"}],
        })
