"""Records of principals that are not ECS tasks, which rightsizer must recognize and leave out:
an IAM user with the CLI, a Lambda function, an EC2 instance, SSO console users, ECS's
service-linked role, AWS services, the root user, a cross-account caller and a member account.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.clock import expiration
from rightsizer.simulate.model import HOME_REGION, MEMBER_REGIONS, Account, Role
from rightsizer.simulate.records import (
    Factory,
    Record,
    assumed_role,
    aws_service,
    iam_user,
    key_resource,
    role_resource,
)

# (account, region, record)
Emitted = tuple[str, str, Record]

CLI_UA = (
    "aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1015-azure md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.24 md/prompt#off md/command#{command}"
)
LAMBDA_UA = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.145"
)
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
MEMBER_UA = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.112-122.189.amzn2023.x86_64 "
    "lang/python#3.11.10 md/pyimpl#CPython Botocore/1.35.36"
)
SSM_AGENT_UA = "aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) amazon-ssm-agent/3.3.1142.0"

# Machine activity grows with the account: relative volume of each kind.
OTHER_KINDS: tuple[tuple[str, float], ...] = (
    ("lambda", 25),
    ("instance", 20),
    ("ecs_slr", 15),
    ("aws_service", 8),
    ("member", 4),
    ("cross_account", 1),
)
# People and schedules do not: events per day, whatever the volume (scaled down only when the
# whole budget is small).
SCHEDULED_KINDS: tuple[tuple[str, float], ...] = (
    ("sso", 120),
    ("ci_user", 60),
    ("root_login", 0.15),
    ("key_rotation", 0.1),
)

FUNCTION = "thumbnailer"
INSTANCE_REGION = "ap-southeast-2"


class OtherTraffic:
    def __init__(self, account: Account, factory: Factory, rng: random.Random) -> None:
        self.a = account
        self.acct = account.account_id
        self.f = factory
        self.rng = rng
        # Rotating credentials of the long-lived sessions: (key, issued, identity).
        self._sessions: dict[str, tuple[str, int, dict[str, Any]]] = {}
        # Shortest key rotation period; the engine raises it for small event budgets.
        self.min_period = 0
        self._member_role_id = ids.unique_id(rng, "AROA")
        self._regions = [svc.region for svc in account.services] or [HOME_REGION]
        self.kinds: dict[str, Callable[[int], list[Emitted]]] = {
            "lambda": self.lambda_call,
            "instance": self.instance_call,
            "ecs_slr": self.ecs_slr_call,
            "sso": self.sso_call,
            "ci_user": self.ci_call,
            "aws_service": self.bucket_acl_check,
            "key_rotation": self.key_rotation,
            "member": self.member_call,
            "cross_account": self.cross_account_call,
            "root_login": self.root_login,
        }

    def _rec(
        self,
        identity: dict[str, Any],
        sec: int,
        source: str,
        name: str,
        region: str,
        ip: str,
        agent: str,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        *,
        read_only: bool = True,
        **kw: Any,
    ) -> Record:
        recipient = kw.pop("recipient", self.acct)
        return self.f.record(
            identity, sec, source, name, region, ip, agent, request, response,
            read_only=read_only, recipient=recipient, **kw,
        )  # fmt: skip

    def _service_assume(
        self, role: Role, session: str, key: str, sec: int, region: str, service: str
    ) -> Record:
        """An AWS service (Lambda, EC2, ECS) assuming the role it runs with."""
        sts_arn = f"arn:aws:sts::{self.acct}:assumed-role/{role.name}/{session}"
        credentials = {
            "accessKeyId": key,
            "sessionToken": ids.session_token(self.rng),
            "expiration": expiration(sec + max(6 * 3600, self.min_period)),
        }
        response = {
            "credentials": credentials,
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{session}", "arn": sts_arn},
        }
        return self._rec(
            aws_service(service), sec, "sts.amazonaws.com", "AssumeRole", region, service, service,
            {"roleArn": role.arn, "roleSessionName": session}, response,
            resources=role_resource(role), shared=True,
        )  # fmt: skip

    def _rotating(
        self,
        name: str,
        role: Role,
        session: str,
        sec: int,
        region: str,
        service: str,
        period: int,
        **kw: Any,
    ) -> tuple[dict[str, Any], list[Emitted]]:
        """The session's identity; renews its key (with the service's AssumeRole) when due."""
        found = self._sessions.get(name)
        period = max(period, self.min_period)
        if found and sec - found[1] < period:
            return found[2], []
        key = ids.access_key(self.rng)
        ident = assumed_role(role, session, key, self.f.clock.iso(sec), **kw)
        self._sessions[name] = (key, sec, ident)
        rec = self._service_assume(role, session, key, sec, region, service)
        return ident, [(self.acct, region, rec)]

    # -- Lambda

    def lambda_call(self, sec: int) -> list[Emitted]:
        role = self.a.lambda_role
        ident, out = self._rotating("lambda", role, FUNCTION, sec, HOME_REGION,
                                    "lambda.amazonaws.com", 2 * 3600)  # fmt: skip
        bucket = f"acme-uploads-{self.acct}"
        host = f"{bucket}.s3.{HOME_REGION}.amazonaws.com"
        day = self.f.clock.iso(sec)[:10]
        roll = self.rng.random()
        ip = self.a.nat_ips[HOME_REGION][0]
        if roll < 0.1:
            stream = f"{day.replace('-', '/')}/[$LATEST]{ids.hex_id(self.rng, 32)}"
            rec = self._rec(ident, sec, "logs.amazonaws.com", "CreateLogStream", HOME_REGION,
                            ip, LAMBDA_UA, {"logGroupName": f"/aws/lambda/{FUNCTION}",
                                            "logStreamName": stream}, read_only=False)  # fmt: skip
        else:
            put = roll > 0.55
            key = (f"thumbnails/{day}/{ids.uuid4(self.rng)}.webp" if put
                   else f"uploads/{day}/{ids.uuid4(self.rng)}.jpg")  # fmt: skip
            rec = self._rec(
                ident, sec, "s3.amazonaws.com", "PutObject" if put else "GetObject", HOME_REGION,
                ip, f"[{LAMBDA_UA}]", {"bucketName": bucket, "Host": host, "key": key},
                {"x-amz-server-side-encryption": "AES256"} if put else None,
                read_only=not put, data=True, tls_host=host, request_id=self.f.s3_request_id(),
                resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                           {"accountId": self.acct, "type": "AWS::S3::Bucket",
                            "ARN": f"arn:aws:s3:::{bucket}"}],
            )  # fmt: skip
        return [*out, (self.acct, HOME_REGION, rec)]

    # -- EC2 instance role

    def instance_call(self, sec: int) -> list[Emitted]:
        role, region, iid = self.a.instance_role, INSTANCE_REGION, self.a.instance_id
        ident, out = self._rotating("instance", role, iid, sec, region, "ec2.amazonaws.com",
                                    3600, ec2_delivery=True)  # fmt: skip
        ip = self.a.nat_ips[region][0]
        roll = self.rng.random()
        if roll < 0.6:
            rec = self._rec(ident, sec, "ssm.amazonaws.com", "UpdateInstanceInformation", region,
                            ip, SSM_AGENT_UA,
                            {"instanceId": iid, "agentVersion": "3.3.1142.0",
                             "agentStatus": "Active", "platformType": "Linux",
                             "platformName": "Amazon Linux", "platformVersion": "2023",
                             "iPAddress": "10.20.1.15", "computerName": "ip-10-20-1-15",
                             "agentName": "amazon-ssm-agent"}, read_only=False)  # fmt: skip
        elif roll < 0.9:
            rec = self._rec(ident, sec, "ssm.amazonaws.com", "ListInstanceAssociations", region,
                            ip, SSM_AGENT_UA, {"instanceId": iid, "maxResults": 20})  # fmt: skip
        else:
            rec = self._rec(ident, sec, "sts.amazonaws.com", "GetCallerIdentity", region, ip,
                            "aws-cli/2.18.5 md/installer#exe")  # fmt: skip
        return [*out, (self.acct, region, rec)]

    # -- ECS's service-linked role (a service principal, not a task)

    def ecs_slr_call(self, sec: int) -> list[Emitted]:
        role = self.a.ecs_slr
        region = self.rng.choice(self._regions)
        ecs = "ecs.amazonaws.com"
        session = "ecs-service-scheduler"
        roll = self.rng.random()
        if roll < 0.05:
            key = ids.access_key(self.rng)
            return [(self.acct, region, self._service_assume(role, session, key, sec, region, ecs))]
        # Like other service-linked roles, its calls show the service, not a key.
        ident = assumed_role(role, session, None, self.f.clock.iso(sec - 1), invoked_by=ecs)
        source = "ec2.amazonaws.com"
        read_only = True
        if roll < 0.4:
            name = "DescribeNetworkInterfaces"
            eni = "eni-0" + ids.hex_id(self.rng, 16)
            items = [{"networkInterfaceId": eni}]
            req: dict[str, Any] = {"networkInterfaceIdSet": {"items": items}}
        elif roll < 0.55:
            name, req = "DescribeSubnets", {"subnetSet": {}}
        elif roll < 0.75:
            source, name, read_only = "elasticloadbalancing.amazonaws.com", "RegisterTargets", False
            target = f"10.0.{self.rng.randrange(256)}.{self.rng.randrange(256)}"
            req = {
                "targetGroupArn": self._target_group(region),
                "targets": [{"id": target, "port": 8080}],
            }
        else:
            source, name = "elasticloadbalancing.amazonaws.com", "DescribeTargetHealth"
            req = {"targetGroupArn": self._target_group(region)}
        rec = self._rec(ident, sec, source, name, region, ecs, ecs, req, read_only=read_only)
        return [(self.acct, region, rec)]

    def _target_group(self, region: str) -> str:
        return f"arn:aws:elasticloadbalancing:{region}:{self.acct}:targetgroup/prod-web/4f2a9c1d"

    # -- SSO console users

    def sso_call(self, sec: int) -> list[Emitted]:
        user = self.rng.choice(self.a.sso_users)
        # One console session (one key) per user and day.
        session_name = f"sso:{user}:{sec // 86_400}"
        found = self._sessions.get(session_name)
        if found is None:
            key = ids.access_key(self.rng)
            found = (key, sec, assumed_role(self.a.sso_role, user, key, self.f.clock.iso(sec)))
            self._sessions[session_name] = found
        ident = found[2]
        ip = f"203.0.113.{self.a.sso_users.index(user) + 10}"
        svc = self.rng.choice(self.a.services)
        region = svc.region if self.rng.random() < 0.5 else HOME_REGION
        read_only = True
        roll = self.rng.random()
        if roll < 0.3:
            source, name, req = "ecs", "ListServices", {"cluster": svc.cluster}
        elif roll < 0.55:
            source, name = "ecs", "DescribeServices"
            req = {"cluster": svc.cluster, "services": [svc.family], "include": ["TAGS"]}
        elif roll < 0.7:
            source, name = "logs", "DescribeLogGroups"
            req = {"logGroupNamePrefix": "/ecs/", "limit": 50}
        elif roll < 0.8:
            source, name = "cloudtrail", "LookupEvents"
            lookup = [{"attributeKey": "ReadOnly", "attributeValue": "false"}]
            req = {"maxResults": 50, "lookupAttributes": lookup}
        elif roll < 0.9:
            source, name, req = "iam", "ListRoles", {"maxItems": 100}
            region = HOME_REGION  # IAM is global and logs in us-east-1
        elif roll < 0.97:
            source, name, req = "ec2", "DescribeSecurityGroups", {"securityGroupSet": {}}
        else:
            exec_svc = next((s for s in self.a.services if s.exec_enabled), svc)
            region, read_only = exec_svc.region, False
            source, name = "ecs", "ExecuteCommand"
            req = {
                "cluster": exec_svc.cluster,
                "container": exec_svc.active.containers[0].name,
                "command": "/bin/sh",
                "interactive": True,
                "task": ids.hex_id(self.rng, 32),
            }
        rec = self._rec(
            ident, sec, f"{source}.amazonaws.com", name, region, ip, BROWSER_UA, req,
            read_only=read_only, console=True,
        )  # fmt: skip
        return [(self.acct, region, rec)]

    # -- the CI user and its CLI

    def ci_call(self, sec: int) -> list[Emitted]:
        """The CI user logs in to ECR, pushes images and rolls services with the CLI."""
        user = self.a.ci_user
        svc = self.rng.choice(self.a.services)
        roll = self.rng.random()
        read_only = True
        if roll < 0.3:
            command, source, name = "ecr.get-login-password", "ecr", "GetAuthorizationToken"
            req = {}
        elif roll < 0.5:
            command, source, name = "ecr.push", "ecr", "BatchCheckLayerAvailability"
            req = {
                "registryId": self.acct,
                "repositoryName": svc.family,
                "layerDigests": [ids.sha256_digest(self.rng)],
            }
        elif roll < 0.6:
            command, source, name, read_only = "ecr.push", "ecr", "PutImage", False
            req = {
                "registryId": self.acct,
                "repositoryName": svc.family,
                "imageTag": f"1.{self.rng.randrange(40)}.{self.rng.randrange(10)}",
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            }
        elif roll < 0.85:
            command, source, name = "ecs.describe-services", "ecs", "DescribeServices"
            req = {"cluster": svc.cluster, "services": [svc.family]}
        else:
            command, source, name, read_only = "ecs.update-service", "ecs", "UpdateService", False
            req = {"cluster": svc.cluster, "service": svc.family, "forceNewDeployment": True}
        agent = CLI_UA.replace("{command}", command)
        rec = self._rec(
            iam_user(user), sec, f"{source}.amazonaws.com", name, svc.region, user.ip, agent, req,
            read_only=read_only,
        )  # fmt: skip
        return [(self.acct, svc.region, rec)]

    # -- AWS services acting for themselves

    def bucket_acl_check(self, sec: int) -> list[Emitted]:
        """CloudTrail checking that it may still write to its bucket."""
        ct = "cloudtrail.amazonaws.com"
        bucket = self.a.bucket
        host = f"{bucket}.s3.{HOME_REGION}.amazonaws.com"
        rec = self._rec(
            aws_service(ct), sec, "s3.amazonaws.com", "GetBucketAcl", HOME_REGION, ct, ct,
            {"bucketName": bucket, "Host": host, "acl": ""},
            resources=[{"accountId": self.acct, "type": "AWS::S3::Bucket",
                        "ARN": f"arn:aws:s3:::{bucket}"}],
            request_id=self.f.s3_request_id(), shared=True,
        )  # fmt: skip
        return [(self.acct, HOME_REGION, rec)]

    def key_rotation(self, sec: int) -> list[Emitted]:
        """A service event: KMS rotating a key on its own schedule. No caller, no request."""
        region = self.rng.choice(self._regions)
        key = self.a.kms_keys[(region, "app")]
        rec = self._rec(
            {"accountId": self.acct, "invokedBy": "kms.amazonaws.com"}, sec, "kms.amazonaws.com",
            "RotateKey", region, "kms.amazonaws.com", "kms.amazonaws.com", None, None,
            read_only=False, resources=key_resource(self.acct, key),
            event_type="AwsServiceEvent", additional={"keyId": key.rsplit("/", 1)[1]},
        )  # fmt: skip
        return [(self.acct, region, rec)]

    # -- the member account (little traffic, no roles of its own in the IAM file)

    def member_call(self, sec: int) -> list[Emitted]:
        user = self.a.member_user
        region = self.rng.choice(MEMBER_REGIONS)
        choices = (
            ("s3.amazonaws.com", "ListBuckets", None),
            ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}),
            ("monitoring.amazonaws.com", "DescribeAlarms", {"maxRecords": 100}),
            ("sts.amazonaws.com", "GetCallerIdentity", None),
        )
        source, name, req = self.rng.choice(choices)
        rec = self._rec(iam_user(user), sec, source, name, region, user.ip, MEMBER_UA, req,
                        recipient=user.account)  # fmt: skip
        return [(user.account, region, rec)]

    # -- another account's principal acting on this account's resources

    def cross_account_call(self, sec: int) -> list[Emitted]:
        member = self.a.member_id
        ident = {
            "type": "AWSAccount",
            "principalId": f"{self._member_role_id}:backup-job",
            "accountId": member,
        }
        key = self.a.kms_keys[(HOME_REGION, "app")]
        rec = self._rec(
            ident, sec, "kms.amazonaws.com", "Decrypt", HOME_REGION,
            self.a.member_user.ip, "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2",
            {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
             "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::acme-backups-{member}/daily"}},
            resources=key_resource(self.acct, key), shared=True,
        )  # fmt: skip
        return [(self.acct, HOME_REGION, rec)]

    # -- the root user signing in to the console

    def root_login(self, sec: int) -> list[Emitted]:
        ident = {
            "type": "Root",
            "principalId": self.acct,
            "arn": f"arn:aws:iam::{self.acct}:root",
            "accountId": self.acct,
            "accessKeyId": "",
        }
        rec = self._rec(
            ident, sec, "signin.amazonaws.com", "ConsoleLogin", HOME_REGION, "203.0.113.77",
            BROWSER_UA, None, {"ConsoleLogin": "Success"}, read_only=False,
            additional={
                "LoginTo": "https://console.aws.amazon.com/console/home"
                "?state=hashArgs%23&isauthcode=true",
                "MobileVersion": "No",
                "MFAIdentifier": f"arn:aws:iam::{self.acct}:mfa/root-account-mfa-device",
                "MFAUsed": "Yes",
            },
            event_type="AwsConsoleSignIn", tls_host="signin.aws.amazon.com",
        )  # fmt: skip
        return [(self.acct, HOME_REGION, rec)]
