"""Trust policies: may a service (``ecs-tasks.amazonaws.com``) assume this role, and how safely?

ECS assumes task and execution roles as the service principal ``ecs-tasks.amazonaws.com`` with
``sts:AssumeRole``. A role trusted by ``ec2.amazonaws.com`` instead, or
only for ``sts:AssumeRoleWithWebIdentity``, cannot be used by ECS: a classic misconfiguration.
AWS recommends an ``aws:SourceAccount`` and/or ``aws:SourceArn`` condition on that trust against
the confused-deputy problem (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html,
"Create the task IAM role"; https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
The organization keys ``aws:SourceOrgID`` / ``aws:SourceOrgPaths`` give the same protection at the
organization level and count too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rightsizer.iam.patterns import matches
from rightsizer.iam.policy import Policy, Statement

__all__ = ["ECS_TASKS", "SOURCE_CONDITION_KEYS", "OpenTrust", "ServiceTrust",
           "ecs_trust_policy", "open_trust", "service_trust"]

ECS_TASKS = "ecs-tasks.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"
SOURCE_CONDITION_KEYS = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}
)


@dataclass(frozen=True, slots=True)
class ServiceTrust:
    service: str
    assumable: bool  # an Allow lets the service sts:AssumeRole and no unconditional Deny blocks it
    allowing: tuple[str, ...]  # refs of the statements that allow it
    source_condition: bool  # every allowing statement is bound by a source account/ARN/org key
    trusted_services: tuple[str, ...]  # every service principal the policy names, sorted
    reason: str


def _principal_values(pairs: tuple[tuple[str, tuple[str, ...]], ...] | None, kind: str) -> set[str]:
    if not pairs:
        return set()
    return {v.lower() for k, values in pairs if k.lower() == kind.lower() for v in values}


def _names_service(statement: Statement, service: str) -> bool:
    if statement.principals is not None:
        if any(k == "*" for k, _ in statement.principals):
            return True  # "Principal": "*"
        if "*" in _principal_values(statement.principals, "AWS"):
            return True  # {"AWS": "*"} is everyone, services included
        return service.lower() in _principal_values(statement.principals, "Service")
    if statement.not_principals is not None:
        return service.lower() not in _principal_values(statement.not_principals, "Service")
    return False


def _covers_assume_role(statement: Statement) -> bool:
    if statement.actions is not None:
        return any(matches(p, ASSUME_ROLE, ignore_case=True) for p in statement.actions)
    assert statement.not_actions is not None
    return not any(matches(p, ASSUME_ROLE, ignore_case=True) for p in statement.not_actions)


def _has_source_condition(statement: Statement) -> bool:
    return any(c.key.lower() in SOURCE_CONDITION_KEYS for c in statement.conditions)


def service_trust(trust: Policy | None, service: str = ECS_TASKS) -> ServiceTrust:
    """Whether ``service`` may assume the role under ``trust``, with the statements that say so."""
    if trust is None:
        return ServiceTrust(service, False, (), False, (), "the IAM data holds no trust policy")
    services = sorted(
        {v for s in trust.statements if s.effect == "Allow"
         for v in _principal_values(s.principals, "Service")}
    )
    relevant = [
        s for s in trust.statements if _names_service(s, service) and _covers_assume_role(s)
    ]
    allowing = [s for s in relevant if s.effect == "Allow"]
    blocking = [s for s in relevant if s.effect == "Deny" and not s.conditions]
    if blocking:
        reason = f"{blocking[0].ref} denies {service} {ASSUME_ROLE}"
        return ServiceTrust(service, False, (), False, tuple(services), reason)
    if not allowing:
        if any(_names_service(s, service) for s in trust.statements if s.effect == "Allow"):
            reason = f"the trust policy allows {service} other actions than {ASSUME_ROLE}"
        elif services:
            reason = f"the trust policy lets {', '.join(services)} assume it, not {service}"
        else:
            reason = f"no statement lets {service} {ASSUME_ROLE}"
        return ServiceTrust(service, False, (), False, tuple(services), reason)
    guarded = all(_has_source_condition(s) for s in allowing)
    reason = f"{service} may {ASSUME_ROLE} ({', '.join(s.ref for s in allowing)})"
    return ServiceTrust(
        service, True, tuple(s.ref for s in allowing), guarded, tuple(services), reason
    )


@dataclass(frozen=True, slots=True)
class OpenTrust:
    """An Allow of a trust policy that does not say who may assume the role: a wildcard
    principal, or ``NotPrincipal`` (everyone but those named), or ``NotAction`` (every action
    but those named, to whoever it names)."""

    ref: str
    what: str  # how the statement is open, for a message
    anyone: bool  # any principal, of any account, may assume the role by it
    conditions: tuple[str, ...]  # the condition keys that alone restrict it, sorted


def open_trust(trust: Policy | None) -> tuple[OpenTrust, ...]:
    """The open Allows of ``trust``. AWS: "we strongly recommend that you do not use a wildcard
    (*) in the Principal element of a role's trust policy unless you otherwise restrict access
    through a Condition element"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html);
    ``NotPrincipal`` with Allow trusts everyone not listed, anonymous users included
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html)."""
    if trust is None:
        return ()
    found = []
    for s in trust.statements:
        if s.effect != "Allow":
            continue
        keys = tuple(sorted({c.key for c in s.conditions}))
        if s.principals is not None and (any(k == "*" for k, _ in s.principals)
                                         or "*" in _principal_values(s.principals, "AWS")):
            found.append(OpenTrust(s.ref, 'a wildcard principal ("*")', True, keys))
        elif s.not_principals is not None:
            named = sorted(v for _, values in s.not_principals for v in values)
            found.append(OpenTrust(s.ref, f"NotPrincipal (everyone but {', '.join(named)})",
                                   True, keys))
        if s.not_actions is not None:
            found.append(OpenTrust(s.ref, f"NotAction (every action but "
                                          f"{', '.join(s.not_actions)})", False, keys))
    return tuple(found)


def ecs_trust_policy(partition: str, account: str, regions: Sequence[str]) -> dict[str, Any]:
    """Trust for ``ecs-tasks.amazonaws.com``, bound to the account's ECS in these regions."""
    sources = [f"arn:{partition}:ecs:{region}:{account}:*" for region in sorted(set(regions))]
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EcsTasksAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": ECS_TASKS},
            "Action": ASSUME_ROLE,
            "Condition": {
                "ArnLike": {"aws:SourceArn": sources[0] if len(sources) == 1 else sources},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }],
    }
