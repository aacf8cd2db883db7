"""`aws iam get-account-authorization-details` output for the simulated main account.

Same keys and nesting as the CLI prints (timestamps `+00:00`, documents decoded to objects), with
one trust policy left URL-encoded as older CLIs and some SDKs return it.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.clock import cli
from rightsizer.simulate.model import (
    ADMIN_POLICY,
    DAY,
    ECS_EXECUTION_POLICY,
    ECS_SLR_POLICY,
    LAMBDA_BASIC_POLICY,
    SSM_CORE_POLICY,
    Account,
    Document,
    ManagedPolicy,
    PolicyVersion,
    Role,
    allow,
    statement_doc,
)

# AWS managed policy texts, as AWS publishes them (ECS's has been v1 since 2017-11-16).
_AWS_MANAGED: dict[str, tuple[str, int, Document]] = {
    ECS_EXECUTION_POLICY: (
        "v1",
        1510790400,
        statement_doc(
            allow(
                [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "*",
            )
        ),
    ),
    LAMBDA_BASIC_POLICY: (
        "v1",
        1428591600,
        statement_doc(
            allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*")
        ),
    ),
    SSM_CORE_POLICY: (
        "v2",
        1552953600,
        statement_doc(
            allow(
                [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ],
                "*",
            ),
            allow(
                [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "*",
            ),
            allow(
                [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                "*",
            ),
        ),
    ),
    ADMIN_POLICY: ("v1", 1423180800, statement_doc(allow("*", "*"))),
    ECS_SLR_POLICY: (
        "v7",
        1511740800,
        statement_doc(
            allow(
                [
                    "ec2:AttachNetworkInterface",
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:Describe*",
                    "ec2:DetachNetworkInterface",
                    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:Describe*",
                    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                    "elasticloadbalancing:RegisterTargets",
                    "servicediscovery:DeregisterInstance",
                    "servicediscovery:Get*",
                    "servicediscovery:List*",
                    "servicediscovery:RegisterInstance",
                ],
                "*",
                "ECSTaskManagement",
            ),
            {
                "Sid": "ECSTagging",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": "arn:aws:ec2:*:*:network-interface/*",
            },
        ),
    ),
}


def _customer_policies(account: Account, rng: random.Random) -> list[ManagedPolicy]:
    acct = account.account_id
    orders_table = f"arn:aws:dynamodb:us-east-1:{acct}:table/orders"
    v1 = statement_doc(allow(["dynamodb:GetItem", "dynamodb:Query"], orders_table))
    v2 = statement_doc(
        allow(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], orders_table),
        allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{acct}:orders-events"),
    )
    # v3 was drafted but never made default: it must not count as granted.
    v3 = statement_doc(
        allow(["dynamodb:*"], orders_table),
        allow(["s3:DeleteObject", "s3:PutObject"], f"arn:aws:s3:::acme-orders-{acct}/*"),
    )
    created = account.ci_user.created
    orders = ManagedPolicy(
        name="orders-shared-access",
        path="/app/",
        policy_id=ids.unique_id(rng, "ANPA"),
        account=acct,
        versions=[
            PolicyVersion("v3", v3, created + 300 * DAY),
            PolicyVersion("v2", v2, created + 200 * DAY),
            PolicyVersion("v1", v1, created + 10 * DAY),
        ],
        default_version="v2",
        created=created + 10 * DAY,
    )
    boundary = _single_version(
        "ecs-task-boundary", "/boundaries/", rng, acct, created + 20 * DAY,
        statement_doc(
            allow(["s3:*", "dynamodb:*", "sqs:*", "sns:*", "kms:Decrypt", "logs:*"], "*"),
            {"Effect": "Deny", "Action": ["iam:*", "organizations:*"], "Resource": "*"},
        ),
    )
    deploy = _single_version(
        "ci-deploy", "/", rng, acct, created + 5 * DAY,
        statement_doc(
            allow(["ecs:*", "ecr:*"], "*", "Deploy"),
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                },
            },
        ),
    )
    return [orders, boundary, deploy]


def _aws_policies(rng: random.Random) -> list[ManagedPolicy]:
    out = []
    for arn, (version, created, doc) in _AWS_MANAGED.items():
        path_and_name = arn.split(":policy", 1)[1]
        path, name = path_and_name.rsplit("/", 1)
        out.append(_single_version(name, path + "/", rng, None, created, doc, version))
    return out


def _single_version(name: str, path: str, rng: random.Random, account: str | None,
                    created: int, doc: dict[str, Any], version: str = "v1") -> ManagedPolicy:
    """A managed policy with one version, the default."""
    return ManagedPolicy(
        name=name,
        path=path,
        policy_id=ids.unique_id(rng, "ANPA"),
        account=account,
        versions=[PolicyVersion(version, doc, created)],
        default_version=version,
        created=created,
    )


def _policy_json(policy: ManagedPolicy, attachments: int, boundary_uses: int) -> dict[str, Any]:
    return {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": boundary_uses,
        "IsAttachable": True,
        "CreateDate": cli(policy.created),
        "UpdateDate": cli(max(v.created for v in policy.versions)),
        "PolicyVersionList": [
            {
                "Document": v.document,
                "VersionId": v.version_id,
                "IsDefaultVersion": v.version_id == policy.default_version,
                "CreateDate": cli(v.created),
            }
            for v in policy.versions
        ],
    }


def _trust_json(role: Role) -> Any:
    if role.trust_url_encoded:
        return urllib.parse.quote(json.dumps(role.trust, separators=(",", ":")), safe="")
    return role.trust


def _role_json(
    role: Role, names: dict[str, str], last_used: dict[str, tuple[int, str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": cli(role.created),
        "AssumeRolePolicyDocument": _trust_json(role),
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in role.inline],
        "AttachedManagedPolicies": [{"PolicyName": names[a], "PolicyArn": a} for a in role.managed],
    }
    if role.instance_profile:
        name, profile_id = role.instance_profile
        out["InstanceProfileList"] = [
            {
                "Path": "/",
                "InstanceProfileName": name,
                "InstanceProfileId": profile_id,
                "Arn": f"arn:aws:iam::{role.account}:instance-profile/{name}",
                "CreateDate": cli(role.created),
                "Roles": [
                    {
                        "Path": role.path,
                        "RoleName": role.name,
                        "RoleId": role.role_id,
                        "Arn": role.arn,
                        "CreateDate": cli(role.created),
                        "AssumeRolePolicyDocument": role.trust,
                    }
                ],
            }
        ]
    if role.boundary:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": role.boundary,
        }
    out["Tags"] = role.tags
    used = last_used.get(role.arn)
    out["RoleLastUsed"] = {"LastUsedDate": cli(used[0]), "Region": used[1]} if used else {}
    return out


def authorization_details(
    account: Account, rng: random.Random, last_used: dict[str, tuple[int, str]]
) -> dict[str, Any]:
    """The whole document; `last_used` maps role ARN -> (epoch second, region) of its last call."""
    policies = _customer_policies(account, rng) + _aws_policies(rng)
    names = {p.arn: p.name for p in policies}
    attached: dict[str, int] = {}
    bounded: dict[str, int] = {}
    for holder in [*account.roles, *account.groups]:
        for arn in holder.managed:
            attached[arn] = attached.get(arn, 0) + 1
    for role in account.roles:
        if role.boundary:
            bounded[role.boundary] = bounded.get(role.boundary, 0) + 1
    users = [
        {
            "Path": "/",
            "UserName": u.name,
            "UserId": u.user_id,
            "Arn": u.arn,
            "CreateDate": cli(u.created),
            "UserPolicyList": [],
            "GroupList": u.groups,
            "AttachedManagedPolicies": [],
            "Tags": [],
        }
        for u in account.users
    ]
    groups = [
        {
            "Path": "/",
            "GroupName": g.name,
            "GroupId": g.group_id,
            "Arn": g.arn,
            "CreateDate": cli(g.created),
            "GroupPolicyList": [
                {"PolicyName": n, "PolicyDocument": d} for n, d in g.inline
            ],
            "AttachedManagedPolicies": [
                {"PolicyName": names[a], "PolicyArn": a} for a in g.managed
            ],
        }
        for g in account.groups
    ]
    return {
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": [_role_json(r, names, last_used) for r in account.roles],
        "Policies": [
            _policy_json(p, attached.get(p.arn, 0), bounded.get(p.arn, 0))
            for p in policies
            # The CLI lists every customer managed policy, and AWS managed ones only if in use.
            if p.account or attached.get(p.arn) or bounded.get(p.arn)
        ],
        "IsTruncated": False,
    }
