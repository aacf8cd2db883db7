"""Load a simulated account into moto's server, as the account would answer live: its roles and
managed policies from `aws iam get-account-authorization-details` output, its task definitions
from `describe-task-definition` output. Everything goes through boto3 over HTTP, with
credentials of a role assumed in the account (moto files what they create under its id)."""

from __future__ import annotations

import json
from typing import Any

import boto3

REGION = "us-east-1"


def account_client(service: str, endpoint: str, account: str, region: str = REGION) -> Any:
    """A client whose calls moto files under ``account``: credentials of a role assumed there."""
    credentials = boto3.client("sts", region_name=REGION, endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed")["Credentials"]
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def seed_iam(endpoint: str, account: str, details: dict[str, Any]) -> None:
    """The account's customer managed policies (every version, the default one set) and roles
    (trust, inline policies, attached policies, boundary). AWS managed policies are moto's."""
    iam = account_client("iam", endpoint, account)
    for policy in details["Policies"]:
        if policy["Arn"].startswith("arn:aws:iam::aws:"):
            continue
        versions = sorted(policy["PolicyVersionList"], key=lambda v: int(v["VersionId"][1:]))
        arn = iam.create_policy(PolicyName=policy["PolicyName"], Path=policy["Path"],
                                PolicyDocument=_document(versions[0]["Document"]))["Policy"]["Arn"]
        for version in versions[1:]:
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document(version["Document"]))
        default = next(v["VersionId"] for v in versions if v["IsDefaultVersion"])
        iam.set_default_policy_version(PolicyArn=arn, VersionId=default)
    for role in details["RoleDetailList"]:
        extra = {}
        if role.get("PermissionsBoundary"):
            extra["PermissionsBoundary"] = role["PermissionsBoundary"]["PermissionsBoundaryArn"]
        iam.create_role(RoleName=role["RoleName"], Path=role["Path"],
                        AssumeRolePolicyDocument=_document(role["AssumeRolePolicyDocument"]),
                        **extra)
        for inline in role["RolePolicyList"]:
            iam.put_role_policy(RoleName=role["RoleName"], PolicyName=inline["PolicyName"],
                                PolicyDocument=_document(inline["PolicyDocument"]))
        for attached in role["AttachedManagedPolicies"]:
            iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=attached["PolicyArn"])


# The fields register_task_definition takes (the rest of describe-task-definition's answer is
# ECS's own: ARN, revision, status, dates).
_REGISTER = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
             "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory",
             "runtimePlatform")


def seed_ecs(endpoint: str, account: str, definitions: dict[str, Any]) -> None:
    """Each task definition registered in its region, a family's revisions in order (ECS
    numbers them from 1, so the listing must hold them all), the INACTIVE ones deregistered."""
    by_region: dict[str, list[dict[str, Any]]] = {}
    for definition in definitions["taskDefinitions"]:
        region = definition["taskDefinitionArn"].split(":")[3]
        by_region.setdefault(region, []).append(definition)
    for region, listed in by_region.items():
        ecs = account_client("ecs", endpoint, account, region)
        for definition in sorted(listed, key=lambda d: (d["family"], d["revision"])):
            arguments = {k: definition[k] for k in _REGISTER if k in definition}
            registered = ecs.register_task_definition(**arguments)["taskDefinition"]
            assert registered["taskDefinitionArn"] == definition["taskDefinitionArn"]
            if definition["status"] == "INACTIVE":
                ecs.deregister_task_definition(taskDefinition=definition["taskDefinitionArn"])
