"""Changes people and pipelines made to the account's ECS roles during the window: the IAM
management events a change audit reads (``rightsizer run``'s "who changed the role").

Every simulated account holds a few, each consistent with the IAM file written at the end (the
state after them): the CI user rewriting a task role's inline policy twice, the second time
wider; an SSO administrator attaching AWS's execution policy to an execution role and detaching
``AmazonS3FullAccess`` from a task role; the CI user rewriting a trust policy; an SSO
administrator deleting a leftover inline policy. IAM is global: its events are logged in
us-east-1 (https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html), with
the request's ``roleName``, ``policyName``, ``policyArn`` and ``policyDocument`` (a JSON string).
"""

from __future__ import annotations

import json
import random
from typing import Any

from rightsizer.simulate import ids
from rightsizer.simulate.clock import Clock
from rightsizer.simulate.model import ECS_EXECUTION_POLICY, HOME_REGION, Account, Role
from rightsizer.simulate.records import Factory, Record, assumed_role, iam_user

__all__ = ["role_changes"]

_CONSOLE_UA = "AWS Internal"
_CLI_UA = "aws-cli/2.17.50 md/awscrt#0.21.2 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.12.6"
S3_FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonS3FullAccess"


def role_changes(account: Account, rng: random.Random, start: int,
                 end: int) -> list[tuple[int, Record]]:
    """(epoch second, record) of each change, in time order."""
    factory = Factory(rng, Clock())
    span = end - start
    ci = iam_user(account.ci_user)
    admin = account.sso_users[0]
    console = assumed_role(account.sso_role, admin, ids.access_key(rng),
                           factory.clock.iso(start + span // 2))
    task_roles = [svc.task_role for svc in account.services]
    executions = [svc.execution_role for svc in account.services
                  if ECS_EXECUTION_POLICY in svc.execution_role.managed
                  and svc.execution_role.name != "ecsTaskExecutionRole"]
    out: list[tuple[int, Record]] = []

    def add(at: float, ident: dict[str, Any], name: str, request: dict[str, Any],
            agent: str) -> None:
        sec = start + int(span * at) + rng.randrange(3600)
        ip = "198.51.100.20" if agent == _CLI_UA else "203.0.113.10"
        out.append((sec, factory.record(ident, sec, "iam.amazonaws.com", name, HOME_REGION, ip,
                                        agent, request, None, read_only=False,
                                        recipient=account.account_id)))

    rewritten = next((r for r in task_roles if r.inline), None)
    if rewritten is not None:
        name, document = rewritten.inline[0]
        add(0.20, ci, "PutRolePolicy", {"roleName": rewritten.name, "policyName": name,
                                        "policyDocument": _text(_narrower(document))}, _CLI_UA)
        add(0.30, ci, "PutRolePolicy", {"roleName": rewritten.name, "policyName": name,
                                        "policyDocument": _text(document)}, _CLI_UA)
        add(0.80, console, "DeleteRolePolicy", {"roleName": rewritten.name,
                                                "policyName": "debug-temp"}, _CONSOLE_UA)
    if executions:
        add(0.45, console, "AttachRolePolicy", {"roleName": executions[0].name,
                                                "policyArn": ECS_EXECUTION_POLICY}, _CONSOLE_UA)
    if task_roles:
        add(0.55, console, "DetachRolePolicy", {"roleName": task_roles[-1].name,
                                                "policyArn": S3_FULL_ACCESS}, _CONSOLE_UA)
    trusted = _ec2_trusted(account) or (task_roles[0] if task_roles else None)
    if trusted is not None:
        add(0.70, ci, "UpdateAssumeRolePolicy", {"roleName": trusted.name,
                                                 "policyDocument": _text(trusted.trust)},
            _CLI_UA)
    return sorted(out, key=lambda item: item[0])


def _narrower(document: dict[str, Any]) -> dict[str, Any]:
    """The document with only the first action of its first statement: an earlier version."""
    statements = document["Statement"]
    first = dict(statements[0] if isinstance(statements, list) else statements)
    actions = first.get("Action")
    first["Action"] = actions[0] if isinstance(actions, list) else actions
    return {"Version": document.get("Version", "2012-10-17"), "Statement": [first]}


def _ec2_trusted(account: Account) -> Role | None:
    return next((r for r in account.roles if r.kind == "task"
                 and "ec2.amazonaws.com" in json.dumps(r.trust)), None)


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
