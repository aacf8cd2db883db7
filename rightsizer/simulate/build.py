"""Building the simulated account: its roles and their policies, the ECS services of each
archetype with the special cases each carries, and the principals other than ECS's. The account
is the plain data of ``simulate.model``; everything is drawn from one seeded `random.Random`,
before any CloudTrail record exists."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.model import (
    ADMIN_POLICY,
    ARCHETYPES,
    DAY,
    ECS_EXECUTION_POLICY,
    ECS_SLR_POLICY,
    HOME_REGION,
    LAMBDA_BASIC_POLICY,
    REGIONS,
    SSM_CORE_POLICY,
    Account,
    Archetype,
    Container,
    Document,
    Group,
    Revision,
    Role,
    Service,
    User,
    allow,
    parameter_arn,
    statement_doc,
)


def _ecs_trust(account: str, region: str, *, condition: bool = True) -> Document:
    stmt: Document = {
        "Sid": "",
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if condition:
        # AWS's advice against the confused deputy: pin the calling account and cluster ARNs.
        stmt["Condition"] = {
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{account}:*"},
            "StringEquals": {"aws:SourceAccount": account},
        }
    return statement_doc(stmt)


def _service_trust(service: str) -> Document:
    return statement_doc(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


class _Builder:
    """Builds an `Account`; keeps the rng and the growing lists in one place."""

    def __init__(self, rng: random.Random, n_services: int, start: int) -> None:
        self.rng = rng
        self.n_services = n_services
        self.start = start
        self.account = str(rng.randrange(10**11, 10**12))
        self.member = str(rng.randrange(10**11, 10**12))
        self.roles: list[Role] = []
        self.secure_parameters: set[str] = set()
        self.kms_keys = {
            (region, purpose): f"arn:aws:kms:{region}:{self.account}:key/{ids.uuid4(rng)}"
            for region in REGIONS
            for purpose in ("app", "secrets")
        }
        self.nat_ips = {
            "us-east-1": (ids.ipv4(rng, 3), ids.ipv4(rng, 54)),
            "eu-west-1": (ids.ipv4(rng, 34), ids.ipv4(rng, 52)),
            "ap-southeast-2": (ids.ipv4(rng, 13), ids.ipv4(rng, 3)),
        }

    # -- helpers

    def created(self, min_days: int = 60, max_days: int = 900) -> int:
        return self.start - self.rng.randrange(min_days * DAY, max_days * DAY)

    def new_role(self, name: str, path: str, kind: str, trust: Document, **kw: Any) -> Role:
        role = Role(
            name=name,
            path=path,
            role_id=ids.unique_id(self.rng, "AROA"),
            account=self.account,
            kind=kind,
            trust=trust,
            created=self.created(),
            **kw,
        )
        self.roles.append(role)
        return role

    def secret_arn(self, region: str, name: str) -> str:
        suffix = ids.secret_suffix(self.rng)
        return f"arn:aws:secretsmanager:{region}:{self.account}:secret:{name}-{suffix}"

    def parameter_arn(self, region: str, name: str, *, secure: bool) -> str:
        arn = f"arn:aws:ssm:{region}:{self.account}:parameter/{name.lstrip('/')}"
        if secure:
            self.secure_parameters.add(arn)
        return arn

    def ecr_image(self, region: str, repo: str, tag: str) -> str:
        return f"{self.account}.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}"

    def layers(self) -> tuple[str, ...]:
        return tuple(ids.sha256_digest(self.rng) for _ in range(self.rng.randint(3, 7)))

    # -- ECS services

    def shared_execution_role(self) -> Role:
        # The console's default role, shared by several services and over-granted on purpose.
        return self.new_role(
            "ecsTaskExecutionRole",
            "/",
            "execution",
            _ecs_trust(self.account, HOME_REGION, condition=False),
            managed=[ECS_EXECUTION_POLICY],
            inline=[
                (
                    "ecs-secrets-access",
                    statement_doc(
                        allow(
                            ["secretsmanager:GetSecretValue", "ssm:GetParameters", "kms:*"],
                            "*",
                            "SecretsAndParameters",
                        )
                    ),
                )
            ],
        )

    def service(self, arch: Archetype, copy: int, shared_exec: Role) -> Service:
        """A service of `arch`; copy 0 carries the archetype's special cases."""
        rng = self.rng
        acct = self.account
        region = arch.region
        family = arch.name if copy == 0 else f"{arch.name}-{copy + 1:03d}"
        special = copy == 0
        uses = {kind for kind, _ in arch.actions}
        s3_calls = {"s3_get", "s3_put", "s3_head", "s3_list"}
        bucket = f"acme-{family}-{acct}" if uses & s3_calls else None
        table = f"{family}-items" if uses & {"ddb_get", "ddb_put", "ddb_query"} else None
        queue = f"{family}-jobs" if uses & {"sqs_send", "sqs_receive", "sqs_delete"} else None
        topic = f"{family}-events" if "sns_publish" in uses else None
        if special:
            bucket, table, queue, topic = _SPECIAL_RESOURCES[arch.name]
            bucket = bucket.format(acct=acct) if bucket else None
        app_secret = (
            self.secret_arn(region, f"{family}/api-token") if "sm_get" in uses else None
        )

        # Execution role: the shared console role for the first three, otherwise one per service.
        secrets_arn = self.secret_arn(region, f"{family}/app-config")
        param_arn = self.parameter_arn(region, f"/{family}/config/endpoint", secure=False)
        if special and arch.name in ("orders-api", "payments-worker", "reports-batch"):
            exec_role = shared_exec
        else:
            exec_role = self.new_role(
                f"{family}-execution",
                "/" if special else "/ecs/",
                "execution",
                _ecs_trust(acct, region),
                managed=[ECS_EXECUTION_POLICY],
                tags=[{"Key": "service", "Value": family}],
            )

        container = Container(
            name=arch.name,
            image=self.ecr_image(region, family, f"1.{rng.randrange(40)}.{rng.randrange(10)}"),
            ecr_repo=family,
            layers=self.layers(),
            log_group=f"/ecs/{family}",
            secrets=[("APP_CONFIG", secrets_arn), ("SERVICE_ENDPOINT", param_arn)],
            port=8080,
            environment=[("AWS_REGION", region), ("LOG_LEVEL", "info")],
        )
        # Some task roles live under /ecs/: their sts ARN then differs from their IAM ARN.
        flat = special and arch.name in ("reports-batch", "web-frontend")
        task_role = self.new_role(
            f"{family}-task",
            "/ecs/" if copy % 2 == 0 and not flat else "/",
            "task",
            _ecs_trust(acct, region),
            inline=[(f"{family}-app", self.task_policy(arch, region, bucket, table, queue, topic,
                                                       app_secret))],
            tags=[{"Key": "service", "Value": family}],
        )  # fmt: skip
        svc = Service(
            family=family,
            archetype=arch,
            region=region,
            cluster="prod" if region == HOME_REGION else f"prod-{region}",
            task_role=task_role,
            execution_role=exec_role,
            revisions=[],
            launches_per_day=arch.launches_per_day * (1.0 if special else rng.uniform(0.3, 1.5)),
            app_weight=arch.app_weight * (1.0 if special else rng.uniform(0.2, 1.5)),
            max_tasks=arch.max_tasks,
            bucket=bucket,
            table=table,
            queue=queue,
            topic=topic,
            app_secret=app_secret,
            egress_ip=rng.choice(self.nat_ips[region]),
            private_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        )
        active = Revision(
            number=1,
            status="ACTIVE",
            task_role_ref=task_role.arn,
            execution_role_ref=exec_role.arn,
            containers=[container],
            cpu="512",
            memory="1024",
            registered=self.created(5, 60),
        )
        svc.revisions.append(active)
        if special:
            _SPECIALS[arch.name](self, svc, container)
        elif copy % 3 == 1:
            self.add_old_revision(svc)
        if exec_role is not shared_exec:
            exec_role.inline.append(("secrets", self.execution_policy(svc)))
        return svc

    def add_old_revision(self, svc: Service, **changes: Any) -> Revision:
        """Insert an INACTIVE revision 1 before the active one (a deploy before the window)."""
        active = svc.active
        # The previous release: same containers, older image tags.
        old_containers = [
            replace(c, image=c.image.replace(":1.", ":0.")) for c in active.containers
        ]
        old = Revision(
            number=1,
            status="INACTIVE",
            task_role_ref=active.task_role_ref,
            execution_role_ref=active.execution_role_ref,
            containers=old_containers,
            cpu=active.cpu,
            memory=active.memory,
            registered=active.registered - self.rng.randrange(20 * DAY, 200 * DAY),
            deregistered=active.registered + 3600,
        )
        for key, value in changes.items():
            setattr(old, key, value)
        for i, rev in enumerate([old, *svc.revisions]):
            rev.number = i + 1
        svc.revisions.insert(0, old)
        return old

    def task_policy(
        self,
        arch: Archetype,
        region: str,
        bucket: str | None,
        table: str | None,
        queue: str | None,
        topic: str | None,
        app_secret: str | None,
    ) -> Document:
        """A typical task-role policy: the right resources, broader actions than used."""
        acct = self.account
        stmts: list[Document] = []
        if bucket:
            stmts.append(allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                               [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], "Objects"))
        if table:
            table_arn = f"arn:aws:dynamodb:{region}:{acct}:table/{table}"
            stmts.append(allow("dynamodb:*", [table_arn, f"{table_arn}/index/*"], "Table"))
        if queue:
            stmts.append(allow("sqs:*", f"arn:aws:sqs:{region}:{acct}:{queue}", "Queue"))
        if topic:
            stmts.append(allow(["sns:Publish", "sns:GetTopicAttributes"],
                               f"arn:aws:sns:{region}:{acct}:{topic}", "Topic"))
        if any(kind.startswith("kms") for kind, _ in arch.actions):
            stmts.append(allow(["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
                               self.kms_keys[(region, "app")], "DataKey"))
        if app_secret:
            stmts.append(allow("secretsmanager:GetSecretValue", app_secret, "ApiToken"))
        return statement_doc(*stmts)  # fmt: skip

    def execution_policy(self, svc: Service) -> Document:
        """A per-service execution role's extra policy: the secrets its task definition names."""
        sm: set[str] = set()
        ssm: set[str] = set()
        for c in svc.active.containers:
            for _, value_from in c.secrets:
                if ":secretsmanager:" in value_from:
                    sm.add(":".join(value_from.split(":")[:7]))
                else:
                    ssm.add(parameter_arn(value_from, svc.region, self.account))
            if c.repository_credentials:
                sm.add(c.repository_credentials)
        objects = [
            arn for c in svc.active.containers for arn in [*c.environment_files, c.firelens_config]
            if arn
        ]
        stmts = []
        if objects:
            buckets = sorted({arn.split("/")[0] for arn in objects})
            stmts.append(allow("s3:GetObject", sorted(objects), "ConfigObjects"))
            stmts.append(allow("s3:GetBucketLocation", buckets, "ConfigBuckets"))
        if sm:
            stmts.append(allow("secretsmanager:GetSecretValue", sorted(sm), "Secrets"))
        if ssm:
            stmts.append(allow("ssm:GetParameters", sorted(ssm), "Parameters"))
        stmts.append(allow("kms:Decrypt", self.kms_keys[(svc.region, "secrets")], "SecretsKey"))
        return statement_doc(*stmts)


# --- special cases of the first copy of each archetype ---------------------------------------


# (bucket, table, queue, topic) of the hand-made services; `{acct}` is the account ID.
_SPECIAL_RESOURCES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "orders-api": ("acme-orders-{acct}", "orders", "orders-events", "order-notifications"),
    "payments-worker": ("acme-payments-archive-{acct}", "payments-ledger", "payments-inbound",
                        None),
    "reports-batch": ("acme-data-lake-{acct}", "report-runs", None, None),
    "web-frontend": ("acme-static-assets-{acct}", None, None, None),
    "ingest-eu": ("acme-ingest-eu-{acct}", "ingest-batches", "ingest-ready", None),
    "notifier": (None, None, "notifications", "customer-alerts"),
}  # fmt: skip


def _orders_api(b: _Builder, svc: Service, app: Container) -> None:
    acct, region = b.account, svc.region
    db = b.secret_arn(region, "orders/db")
    # `:password::` selects one JSON key of the secret; the role needs the secret itself.
    app.secrets = [
        ("DB_PASSWORD", f"{db}:password::"),
        ("DB_HOST", b.parameter_arn(region, "/orders/db-host", secure=False)),
        ("FEATURE_FLAGS", "orders-feature-flags"),  # a bare SSM parameter name
    ]
    b.parameter_arn(region, "orders-feature-flags", secure=False)
    app.environment = [("SPRING_PROFILES_ACTIVE", "prod"), ("AWS_REGION", region)]
    svc.vpc_endpoint = f"vpce-{ids.hex_id(b.rng, 17)}"
    table_arn = f"arn:aws:dynamodb:{region}:{acct}:table/orders"
    svc.task_role.inline = [
        (
            "orders-app",
            statement_doc(
                allow("dynamodb:*", [table_arn, f"{table_arn}/index/*"], "OrdersTable"),
                allow("sqs:SendMessage", f"arn:aws:sqs:{region}:{acct}:orders-events", "Events"),
                allow("sns:Publish", f"arn:aws:sns:{region}:{acct}:order-notifications"),
                {
                    "Sid": "S3AnythingInHomeRegion",
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
                },
                allow("kms:Decrypt", b.kms_keys[(region, "app")]),
                allow("secretsmanager:GetSecretValue", svc.app_secret or "*"),
            ),
        )
    ]
    svc.task_role.managed.append(f"arn:aws:iam::{acct}:policy/app/orders-shared-access")
    b.add_old_revision(svc)


def _payments_worker(b: _Builder, svc: Service, app: Container) -> None:
    region = svc.region
    digest = ids.sha256_digest(b.rng)
    app.image = f"{b.account}.dkr.ecr.{region}.amazonaws.com/{svc.family}@{digest}"
    app.create_group = True
    app.secrets = [
        ("STRIPE_API_KEY", b.secret_arn(region, "payments/stripe-api-key")),
        ("SIGNING_KEY", b.parameter_arn(region, "/payments/signing-key", secure=True)),
    ]
    app.port = None
    svc.exec_enabled = True
    # One Statement given as an object, not a list: valid IAM, and easy to mis-parse.
    svc.task_role.inline = [
        (
            "payments-app",
            {
                "Version": "2012-10-17",
                "Statement": {
                    "Effect": "Allow",
                    "Action": [
                        "sqs:*", "dynamodb:*", "s3:PutObject", "s3:GetObject",
                        "kms:GenerateDataKey", "kms:Decrypt", "secretsmanager:GetSecretValue",
                        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                    ],
                    "Resource": "*",
                },
            },
        )
    ]  # fmt: skip


def _reports_batch(b: _Builder, svc: Service, app: Container) -> None:
    region = svc.region
    app.environment_files = [f"arn:aws:s3:::acme-config-{b.account}/reports-batch/prod.env"]
    app.secrets = [("WAREHOUSE_CREDENTIALS", b.secret_arn(region, "reports/warehouse"))]
    app.port = None
    role = svc.task_role
    role.trust_url_encoded = True
    role.boundary = f"arn:aws:iam::{b.account}:policy/boundaries/ecs-task-boundary"
    role.inline = [
        (
            "reports-broad",
            statement_doc(
                {"Sid": "EverythingButIam", "Effect": "Allow", "NotAction": "iam:*",
                 "Resource": "*"},
                {"Sid": "NeverDropBuckets", "Effect": "Deny", "Action": "s3:DeleteBucket",
                 "Resource": "*"},
            ),
        )
    ]  # fmt: skip


def _web_frontend(b: _Builder, svc: Service, app: Container) -> None:
    region = svc.region
    group = "/ecs/web-frontend/firelens"
    app.name = "web-app"
    app.log_driver = "awsfirelens"
    app.log_group = None
    app.secrets = []
    nginx = Container(
        name="nginx",
        image="public.ecr.aws/nginx/nginx:1.27",
        log_driver="awsfirelens",
        log_group=None,
        port=80,
    )
    router = Container(
        name="log_router",
        image="public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
        log_group=group,
        log_prefix="firelens",
        firelens_config=f"arn:aws:s3:::acme-config-{b.account}/fluent-bit/web-frontend.conf",
        essential=True,
    )
    svc.active.containers = [nginx, app, router]
    svc.active.task_role_ref = svc.task_role.name  # a bare role name, as ECS accepts
    svc.task_role.inline = [
        (
            "static-read",
            statement_doc(
                allow("s3:GetObject", f"arn:aws:s3:::{svc.bucket}/*"),
                # Fluent Bit writes the app logs with the task role.
                allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                      f"arn:aws:logs:{region}:{b.account}:log-group:/ecs/web-frontend/app:*"),
            ),
        )
    ]  # fmt: skip


def _ingest_eu(b: _Builder, svc: Service, app: Container) -> None:
    region = svc.region
    agent = Container(
        name="agent",
        image="docker.io/acmecorp/ingest-agent:3.2.0",
        log_group=app.log_group,
        log_prefix="agent",
        repository_credentials=b.secret_arn(region, "dockerhub/pull-credentials"),
        essential=False,
    )
    svc.active.containers.append(agent)
    svc.task_role.inline = [
        (
            "ingest-app",
            statement_doc(
                allow("s3:PutObject", f"arn:aws:s3:::{svc.bucket}/*"),
                allow("dynamodb:*", "*"),
                allow("sqs:*", "*"),
                allow("kms:GenerateDataKey", b.kms_keys[(region, "app")]),
            ),
        )
    ]


def _notifier(b: _Builder, svc: Service, app: Container) -> None:
    # Revision 1 named a role that trusts ec2.amazonaws.com: ECS can never assume it.
    legacy = b.new_role(
        "notifier-task-legacy",
        "/",
        "task",
        _service_trust("ec2.amazonaws.com"),
        inline=[("publish-anything", statement_doc(allow("sns:Publish", "*")))],
    )
    b.add_old_revision(svc, task_role_ref=legacy.arn)


_SPECIALS = {
    "orders-api": _orders_api,
    "payments-worker": _payments_worker,
    "reports-batch": _reports_batch,
    "web-frontend": _web_frontend,
    "ingest-eu": _ingest_eu,
    "notifier": _notifier,
}


# --- the other principals --------------------------------------------------------------------


def _other_principals(b: _Builder) -> dict[str, Any]:
    rng, acct = b.rng, b.account
    lambda_role = b.new_role(
        f"thumbnailer-role-{ids.text(rng, 8, ids.LOWER_ALNUM)}",
        "/service-role/",
        "lambda",
        _service_trust("lambda.amazonaws.com"),
        managed=[LAMBDA_BASIC_POLICY],
        inline=[("uploads", statement_doc(allow(["s3:GetObject", "s3:PutObject"],
                                                f"arn:aws:s3:::acme-uploads-{acct}/*")))],
    )  # fmt: skip
    instance_role = b.new_role(
        "bastion-ssm-role",
        "/",
        "ec2",
        _service_trust("ec2.amazonaws.com"),
        managed=[SSM_CORE_POLICY],
        instance_profile=("bastion-ssm-role", ids.unique_id(rng, "AIPA")),
    )
    saml = f"arn:aws:iam::{acct}:saml-provider/AWSSSO_{ids.hex_id(rng, 16)}_DO_NOT_DELETE"
    sso_role = b.new_role(
        f"AWSReservedSSO_AdministratorAccess_{ids.hex_id(rng, 16)}",
        "/aws-reserved/sso.amazonaws.com/",
        "sso",
        statement_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": saml},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ),
        managed=[ADMIN_POLICY],
    )
    ecs_slr = b.new_role(
        "AWSServiceRoleForECS",
        "/aws-service-role/ecs.amazonaws.com/",
        "service-linked",
        _service_trust("ecs.amazonaws.com"),
        managed=[ECS_SLR_POLICY],
    )
    ci_user = User(
        name="ci-deployer",
        user_id=ids.unique_id(rng, "AIDA"),
        account=acct,
        access_key=ids.access_key(rng, "AKIA"),
        created=b.created(),
        groups=["deployers"],
        ip=ids.ipv4(rng, 20),
    )
    member_user = User(
        name="ops-automation",
        user_id=ids.unique_id(rng, "AIDA"),
        account=b.member,
        access_key=ids.access_key(rng, "AKIA"),
        created=b.created(),
        ip=ids.ipv4(rng, 52),
    )
    return {
        "lambda_role": lambda_role,
        "instance_role": instance_role,
        "instance_id": "i-0" + ids.hex_id(rng, 16),
        "sso_role": sso_role,
        "sso_users": ("alice@acme.example", "bob@acme.example", "carol@acme.example"),
        "ecs_slr": ecs_slr,
        "ci_user": ci_user,
        "member_user": member_user,
    }


def build_account(rng: random.Random, n_services: int, start: int) -> Account:
    """The account for `n_services` ECS services (families); `start` is the window start."""
    b = _Builder(rng, n_services, start)
    org_id = "o-" + ids.text(rng, 10, ids.LOWER_ALNUM)
    shared_exec = b.shared_execution_role()
    services = [
        b.service(ARCHETYPES[i % len(ARCHETYPES)], i // len(ARCHETYPES), shared_exec)
        for i in range(n_services)
    ]
    others = _other_principals(b)
    deployers = Group(
        name="deployers",
        group_id=ids.unique_id(rng, "AGPA"),
        account=b.account,
        created=b.created(),
        managed=[f"arn:aws:iam::{b.account}:policy/ci-deploy"],
    )
    account = Account(
        account_id=b.account,
        member_id=b.member,
        org_id=org_id,
        bucket=f"acme-org-cloudtrail-{b.account}",
        roles=b.roles,
        groups=[deployers],
        users=[others["ci_user"]],
        services=services,
        kms_keys=b.kms_keys,
        secure_parameters=b.secure_parameters,
        nat_ips=b.nat_ips,
        **others,
    )
    return account
