"""The shape every CloudTrail record shares, and the `userIdentity` blocks of each principal kind.

Key order follows real delivery files (eventVersion, userIdentity, eventTime, ...), so a record
here diffs cleanly against a real one.
"""

from __future__ import annotations

import base64
import random
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.clock import Clock
from rightsizer.simulate.model import Role, User

Record = dict[str, Any]

# sourceIPAddress values that are AWS itself: such calls carry no TLS details.
_NO_TLS = frozenset({"AWS Internal"})

# Sources whose records are newer-style (1.09) in today's trails; the rest stay 1.08.
_VERSION = {
    "s3.amazonaws.com": "1.09",
    "dynamodb.amazonaws.com": "1.09",
    "sqs.amazonaws.com": "1.09",
    "sns.amazonaws.com": "1.09",
    "secretsmanager.amazonaws.com": "1.09",
    "ssmmessages.amazonaws.com": "1.09",
}

ECS_TASKS = "ecs-tasks.amazonaws.com"


class Factory:
    """Builds records; owns the rng draws every record needs (eventID, requestID)."""

    def __init__(self, rng: random.Random, clock: Clock) -> None:
        self.rng = rng
        self.clock = clock
        self._cache: dict[tuple[str, str, bool, str | None], tuple[str, Any]] = {}

    def _meta(
        self, source: str, region: str, ip: str, tls_host: str | None
    ) -> tuple[str, dict[str, str] | None]:
        """eventVersion and tlsDetails, which depend only on where the call went and came from."""
        internal = ip in _NO_TLS or ip.endswith(".amazonaws.com")
        key = (source, region, internal, tls_host)
        found = self._cache.get(key)
        if found is None:
            # Calls AWS services make for themselves reach CloudTrail without TLS details.
            tls = None if internal else {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": tls_host or _host(source, region),
            }
            found = (_VERSION.get(source, "1.08"), tls)
            self._cache[key] = found
        return found

    def s3_request_id(self) -> str:
        return ids.text(self.rng, 16, ids.BASE32)

    def amz_id_2(self) -> str:
        return base64.b64encode(self.rng.randbytes(57)).decode()

    def record(
        self,
        identity: dict[str, Any],
        sec: int,
        source: str,
        name: str,
        region: str,
        ip: str,
        agent: str,
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
        *,
        read_only: bool,
        recipient: str,
        data: bool = False,
        resources: list[dict[str, str]] | None = None,
        error: tuple[str, str] | None = None,
        additional: dict[str, Any] | None = None,
        request_id: str | None = None,
        shared: bool = False,
        vpce: str | None = None,
        tls_host: str | None = None,
        event_type: str = "AwsApiCall",
        console: bool = False,
    ) -> Record:
        version, tls = self._meta(source, region, ip, tls_host)
        rec: Record = {
            "eventVersion": version,
            "userIdentity": identity,
            "eventTime": self.clock.iso(sec),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
        }
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = request
        rec["responseElements"] = response
        if additional is not None:
            rec["additionalEventData"] = additional
        rec["requestID"] = request_id or ids.uuid4(self.rng)
        rec["eventID"] = ids.uuid4(self.rng)
        rec["readOnly"] = read_only
        if resources is not None:
            rec["resources"] = resources
        rec["eventType"] = event_type
        rec["managementEvent"] = not data
        rec["recipientAccountId"] = recipient
        if shared:
            rec["sharedEventID"] = ids.uuid4(self.rng)
        if vpce:
            rec["vpcEndpointId"] = vpce
            rec["vpcEndpointAccountId"] = recipient
        rec["eventCategory"] = "Data" if data else "Management"
        if tls is not None:
            rec["tlsDetails"] = tls
        if console:
            rec["sessionCredentialFromConsole"] = "true"
        return rec


def _host(source: str, region: str) -> str:
    service = source.split(".", 1)[0]
    return f"{service}.{region}.amazonaws.com"


def aws_service(service: str) -> dict[str, str]:
    """The identity of an AWS service acting on its own (e.g. ECS assuming a task's role)."""
    return {"type": "AWSService", "invokedBy": service}


def assumed_role(
    role: Role,
    session: str,
    key: str | None,
    created: str,
    *,
    invoked_by: str | None = None,
    ec2_delivery: bool = False,
) -> dict[str, Any]:
    """A role session. `arn` drops the role's path; `sessionIssuer.arn` keeps it."""
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role.role_id,
            "arn": role.arn,
            "accountId": role.account,
            "userName": role.name,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
    }
    if ec2_delivery:
        context["ec2RoleDelivery"] = "2.0"
    ident: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session}",
        "arn": f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session}",
        "accountId": role.account,
    }
    if key:
        ident["accessKeyId"] = key
    ident["sessionContext"] = context
    if invoked_by:
        ident["invokedBy"] = invoked_by
    return ident


def iam_user(user: User) -> dict[str, str]:
    return {
        "type": "IAMUser",
        "principalId": user.user_id,
        "arn": user.arn,
        "accountId": user.account,
        "accessKeyId": user.access_key,
        "userName": user.name,
    }


def role_resource(role: Role) -> list[dict[str, str]]:
    return [{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}]


def key_resource(account: str, key_arn: str) -> list[dict[str, str]]:
    return [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_arn}]
