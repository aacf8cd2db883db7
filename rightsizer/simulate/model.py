"""The simulated account as plain data: roles, policies, users, ECS services and their resources.

Everything here is built once from a seeded `random.Random`, before any CloudTrail record exists,
so the IAM and ECS files do not depend on how many events are generated. The records, the IAM file
and the task definitions are all rendered from these objects, which keeps them consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Document = dict[str, Any]

HOME_REGION = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
MEMBER_REGIONS = ("us-east-1", "eu-west-1")
TRAIL_NAME = "org-trail"
DAY = 86_400

ECS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
LAMBDA_BASIC_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
ECS_SLR_POLICY = "arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy"


def statement_doc(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str], sid: str | None = None) -> Document:
    stmt: Document = {"Sid": sid} if sid else {}
    stmt.update({"Effect": "Allow", "Action": action, "Resource": resource})
    return stmt


# --- IAM ------------------------------------------------------------------------------------


@dataclass
class Role:
    name: str
    path: str
    role_id: str
    account: str
    kind: str  # execution | task | lambda | ec2 | sso | service-linked
    trust: Document
    created: int
    inline: list[tuple[str, Document]] = field(default_factory=list)
    managed: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    boundary: str | None = None
    # Older CLIs print the trust policy URL-encoded; the IAM file keeps one role that way.
    trust_url_encoded: bool = False
    instance_profile: tuple[str, str] | None = None  # (name, AIPA id)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"


@dataclass
class PolicyVersion:
    version_id: str
    document: Document
    created: int


@dataclass
class ManagedPolicy:
    name: str
    path: str
    policy_id: str
    account: str | None  # None for AWS managed policies
    versions: list[PolicyVersion]
    default_version: str
    created: int

    @property
    def arn(self) -> str:
        owner = self.account or "aws"
        return f"arn:aws:iam::{owner}:policy{self.path}{self.name}"


@dataclass
class Group:
    name: str
    group_id: str
    account: str
    created: int
    inline: list[tuple[str, Document]] = field(default_factory=list)
    managed: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:group/{self.name}"


@dataclass
class User:
    name: str
    user_id: str
    account: str
    access_key: str
    created: int
    groups: list[str] = field(default_factory=list)
    ip: str = "198.51.100.10"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


# --- ECS ------------------------------------------------------------------------------------


@dataclass
class Container:
    name: str
    image: str
    ecr_repo: str | None = None  # set when the image lives in the account's own ECR
    layers: tuple[str, ...] = ()
    log_driver: str = "awslogs"
    log_group: str | None = None
    log_prefix: str = "ecs"
    create_group: bool = False
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (env name, valueFrom)
    repository_credentials: str | None = None
    environment_files: list[str] = field(default_factory=list)  # s3 object ARNs
    firelens_config: str | None = None  # s3 object ARN of a FireLens config file
    port: int | None = None
    environment: list[tuple[str, str]] = field(default_factory=list)
    essential: bool = True


@dataclass
class Revision:
    number: int
    status: str  # ACTIVE | INACTIVE
    task_role_ref: str  # as written in the task definition: an ARN or a bare role name
    execution_role_ref: str
    containers: list[Container]
    cpu: str
    memory: str
    registered: int
    deregistered: int | None = None


@dataclass(frozen=True)
class Archetype:
    """A kind of ECS service; services beyond the first six are numbered copies of these."""

    name: str
    region: str
    lang: str  # picks the SDK user agent
    launches_per_day: float
    app_weight: float  # share of task-role traffic
    max_tasks: int
    actions: tuple[tuple[str, float], ...]  # (app call kind, weight), see traffic_ecs.APP_CALLS
    key_style: str  # how S3 object keys look, see traffic_ecs.S3_KEYS


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "orders-api", "us-east-1", "java", 6.0, 10.0, 4,
        (("ddb_get", 30), ("ddb_query", 15), ("ddb_put", 10), ("sqs_send", 10),
         ("sns_publish", 4), ("kms_decrypt", 3), ("s3_put", 5), ("s3_head", 3), ("sm_get", 0.5)),
        "receipts",
    ),
    Archetype(
        "payments-worker", "us-east-1", "python", 3.0, 6.0, 3,
        (("sqs_receive", 30), ("sqs_delete", 20), ("kms_gdk", 8), ("kms_decrypt", 4),
         ("s3_put", 8), ("ddb_put", 6), ("sm_get", 0.5)),
        "settlements",
    ),
    Archetype(
        "reports-batch", "us-east-1", "python", 0.3, 2.0, 1,
        (("s3_list", 8), ("s3_get", 30), ("s3_put", 6), ("ddb_query", 5), ("kms_decrypt", 2)),
        "datalake",
    ),
    Archetype(
        "web-frontend", "us-east-1", "node", 2.0, 3.0, 3,
        (("s3_get", 20), ("s3_head", 10), ("s3_delete_denied", 0.3), ("ec2_denied", 0.2)),
        "assets",
    ),
    Archetype(
        "ingest-eu", "eu-west-1", "go", 1.0, 4.0, 2,
        (("s3_put", 20), ("ddb_put", 10), ("sqs_send", 5), ("kms_gdk", 3)),
        "ingest",
    ),
    Archetype(
        "notifier", "ap-southeast-2", "node", 0.5, 2.0, 1,
        (("sqs_receive", 10), ("sqs_delete", 8), ("sns_publish", 10), ("ec2_denied", 0.2)),
        "none",
    ),
)  # fmt: skip


@dataclass
class Service:
    family: str
    archetype: Archetype
    region: str
    cluster: str
    task_role: Role
    execution_role: Role
    revisions: list[Revision]
    launches_per_day: float
    app_weight: float
    max_tasks: int
    bucket: str | None
    table: str | None
    queue: str | None
    topic: str | None
    app_secret: str | None  # Secrets Manager ARN the app itself reads at run time
    egress_ip: str
    private_ip: str
    vpc_endpoint: str | None = None  # S3/DynamoDB gateway endpoint: private source IP + vpce id
    exec_enabled: bool = False

    @property
    def active(self) -> Revision:
        return next(r for r in reversed(self.revisions) if r.status == "ACTIVE")

    @property
    def actions(self) -> tuple[tuple[str, float], ...]:
        return self.archetype.actions


# --- the whole account ----------------------------------------------------------------------


@dataclass
class Account:
    account_id: str
    member_id: str
    org_id: str
    bucket: str
    roles: list[Role]
    groups: list[Group]
    users: list[User]
    services: list[Service]
    kms_keys: dict[tuple[str, str], str]  # (region, purpose) -> key ARN; purpose app | secrets
    secure_parameters: set[str]  # SSM parameter ARNs of type SecureString
    lambda_role: Role
    instance_role: Role
    instance_id: str
    sso_role: Role
    sso_users: tuple[str, ...]
    ecs_slr: Role
    ci_user: User
    member_user: User
    nat_ips: dict[str, tuple[str, ...]]

    def role(self, name: str) -> Role:
        return next(r for r in self.roles if r.name == name)


def parameter_arn(value_from: str, region: str, account: str) -> str:
    """An SSM `valueFrom` (ARN or bare name in the task's region) as a parameter ARN."""
    if value_from.startswith("arn:"):
        return value_from
    return f"arn:aws:ssm:{region}:{account}:parameter/{value_from.lstrip('/')}"
