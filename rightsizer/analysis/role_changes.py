"""Who changed each ECS role in the window, and whether the change widened it: the change audit a
compliance review of IAM roles asks for.

Why: a least-privilege role stays least-privilege only until someone widens it. CloudTrail
records every change to a role (``CreateRole``, ``PutRolePolicy``, ``DeleteRolePolicy``,
``AttachRolePolicy``, ``DetachRolePolicy``, ``UpdateAssumeRolePolicy``,
``PutRolePermissionsBoundary``, ``DeleteRolePermissionsBoundary``) and to the managed policies
attached to it (``CreatePolicyVersion``, ``SetDefaultPolicyVersion``, ``DeletePolicyVersion``),
with who made it (https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html).
Pure: the store's ``IamChangeEvent`` values and the inventory in, ``RoleChange`` values out.

Whether a change widened the role:
- attaching a policy, deleting the boundary: widened;
- deleting or detaching a policy, deleting a policy version: narrowed;
- rewriting an inline policy, or a new default version of an attached managed policy: widened
  when the new document allows an action on a resource that no statement of the version before
  it allowed, narrowed otherwise, unknown when the version before it is not in the window;
- replacing the trust policy: widened when it lets anyone in, or a principal other than
  ``ecs-tasks.amazonaws.com``; a trust that ECS can no longer use is said, as it breaks tasks;
- anything else (creating the role, setting a boundary, choosing a default version): unknown.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from rightsizer.analysis.grants import expand_statement
from rightsizer.analysis.inventory import Inventory, InventoryRole
from rightsizer.errors import PolicyError
from rightsizer.iam.patterns import matches
from rightsizer.iam.policy import Policy, parse_policy
from rightsizer.iam.trust import ECS_TASKS, open_trust, service_trust
from rightsizer.store.records import IamChangeEvent

__all__ = ["RoleChange", "role_changes"]

_ROLE_EVENTS = frozenset({
    "CreateRole", "DeleteRole", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy",
    "DetachRolePolicy", "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary"})
_POLICY_EVENTS = frozenset({"CreatePolicyVersion", "SetDefaultPolicyVersion",
                            "DeletePolicyVersion"})


@dataclass(frozen=True, slots=True)
class RoleChange:
    role_arn: str
    time: datetime
    change: str  # the IAM call
    actor: str  # who made it: the caller's ARN as logged
    actor_type: str
    source_ip: str
    what: str  # what it changed, in words
    widened: bool | None  # None: cannot tell
    why: str  # why it did (or did not, or cannot tell)
    event_id: str

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "change": self.change, "actor": self.actor,
                "actor_type": self.actor_type, "source_ip": self.source_ip,
                "what": self.what, "widened": self.widened, "why": self.why,
                "event_id": self.event_id}


def role_changes(events: Iterable[IamChangeEvent],
                 inventory: Inventory) -> dict[str, tuple[RoleChange, ...]]:
    """The changes to each ECS role (by ARN), oldest first."""
    roles = inventory.ecs_roles
    by_name = {r.name.lower(): r for r in roles}
    by_policy: dict[str, list[InventoryRole]] = defaultdict(list)
    for role in roles:
        for arn in role.attached_policy_arns:
            by_policy[arn].append(role)
    previous: dict[tuple[str, ...], Policy | None] = {}  # the version each change replaced
    found: dict[str, list[RoleChange]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.time, e.event_id)):
        request = event.request
        if event.name in _ROLE_EVENTS:
            role = by_name.get(str(request.get("roleName", "")).lower())
            if role is None:
                continue
            what, widened, why = _role_change(event.name, request, role, previous)
            found[role.arn].append(_change(role, event, what, widened, why))
        elif event.name in _POLICY_EVENTS:
            arn = str(request.get("policyArn", ""))
            what, widened, why = _policy_change(event.name, request, previous)
            for role in by_policy.get(arn, ()):
                found[role.arn].append(_change(role, event, what, widened, why))
    return {arn: tuple(changes) for arn, changes in sorted(found.items())}


def _change(role: InventoryRole, event: IamChangeEvent, what: str, widened: bool | None,
            why: str) -> RoleChange:
    return RoleChange(role.arn, event.time, event.name, event.actor, event.actor_type,
                      event.source_ip, what, widened, why, event.event_id)


def _role_change(name: str, request: Mapping[str, Any], role: InventoryRole,
                 previous: dict[tuple[str, ...], Policy | None]
                 ) -> tuple[str, bool | None, str]:
    policy_name = str(request.get("policyName", ""))
    policy_arn = str(request.get("policyArn", ""))
    if name == "AttachRolePolicy":
        return (f"attached {policy_arn}", True, "an attached policy adds what it grants")
    if name == "DetachRolePolicy":
        return f"detached {policy_arn}", False, "a detached policy grants nothing more"
    if name == "DeleteRolePolicy":
        previous[("inline", role.arn, policy_name)] = None
        return f"deleted inline policy {policy_name}", False, "a deleted policy grants nothing"
    if name == "PutRolePolicy":
        key = ("inline", role.arn, policy_name)
        new = _document(request.get("policyDocument"), policy_name, "inline")
        widened, why = _compare(previous.get(key), new, key in previous)
        previous[key] = new
        return f"wrote inline policy {policy_name}", widened, why
    if name == "UpdateAssumeRolePolicy":
        trust = _document(request.get("policyDocument"), "trust", "trust")
        return ("replaced the trust policy", *_trust_change(trust))
    if name == "DeleteRolePermissionsBoundary":
        return ("deleted the permissions boundary", True,
                "the role's policies are no longer capped")
    if name == "PutRolePermissionsBoundary":
        boundary = str(request.get("permissionsBoundary", ""))
        return (f"set the permissions boundary to {boundary}", None,
                "a boundary caps the role; whether this one caps less than the last is not "
                "known from the event")
    if name == "CreateRole":
        return "created the role", None, "the role's first policies follow in other events"
    return "deleted the role", False, "a deleted role grants nothing"


def _policy_change(name: str, request: Mapping[str, Any],
                   previous: dict[tuple[str, ...], Policy | None]
                   ) -> tuple[str, bool | None, str]:
    arn = str(request.get("policyArn", ""))
    if name == "DeletePolicyVersion":
        return (f"deleted version {request.get('versionId', '?')} of {arn}", False,
                "a version that is not the default grants nothing")
    if name == "SetDefaultPolicyVersion":
        return (f"made version {request.get('versionId', '?')} of {arn} the default", None,
                "the version's document is not in the event")
    key = ("managed", arn)
    new = _document(request.get("policyDocument"), arn, "managed")
    default = str(request.get("setAsDefault", "")).lower() == "true"
    if not default:
        return (f"created a version of {arn}, not the default", False,
                "a version that is not the default grants nothing")
    widened, why = _compare(previous.get(key), new, key in previous)
    previous[key] = new
    return f"created the default version of {arn}", widened, why


def _document(value: Any, name: str, kind: str) -> Policy | None:
    if isinstance(value, str):
        text = value if value.lstrip().startswith("{") else unquote(value)
        try:
            value = json.loads(text)
        except ValueError:
            return None
    if not isinstance(value, Mapping):
        return None
    try:
        return parse_policy(value, name=name, kind=kind)  # type: ignore[arg-type]
    except PolicyError:
        return None


def _compare(old: Policy | None, new: Policy | None, seen: bool) -> tuple[bool | None, str]:
    if new is None:
        return None, "the new document could not be read from the event"
    if not seen:
        return None, "the version before it is not in the window"
    if old is None:
        return True, "the policy did not exist before it"
    added = sorted(_grants(new) - _covered(_grants(new), _grants(old)))
    if added:
        shown = ", ".join(f"{action} on {resource}" for action, resource in added[:3])
        more = f" and {len(added) - 3} more" if len(added) > 3 else ""
        return True, f"it allows {shown}{more}, which the version before it did not"
    return False, "it allows nothing the version before it did not"


def _grants(policy: Policy) -> set[tuple[str, str]]:
    return {(action, resource) for s in policy.statements if s.effect == "Allow"
            for action in expand_statement(s) for resource in (s.resources or ("*",))}


def _covered(new: set[tuple[str, str]], old: set[tuple[str, str]]) -> set[tuple[str, str]]:
    by_action: dict[str, list[str]] = defaultdict(list)
    for action, resource in old:
        by_action[action].append(resource)
    return {(action, resource) for action, resource in new
            if any(matches(pattern, resource, ignore_case=False)
                   for pattern in by_action.get(action, ()))}


def _trust_change(trust: Policy | None) -> tuple[bool | None, str]:
    if trust is None:
        return None, "the new trust policy could not be read from the event"
    opened = open_trust(trust)
    if opened:
        return True, f"the trust is open: {opened[0].what} ({opened[0].ref})"
    ecs = service_trust(trust, ECS_TASKS)
    others = [s for s in ecs.trusted_services if s != ECS_TASKS]
    aws_principals = sorted({v for s in trust.statements if s.effect == "Allow"
                             for k, values in s.principals or () if k == "AWS" for v in values})
    if aws_principals:
        return True, f"it trusts {', '.join(aws_principals)}"
    if not ecs.assumable:
        return False, f"ECS can no longer assume the role: {ecs.reason}; its tasks will fail"
    if others:
        return True, f"it also trusts {', '.join(others)}"
    return False, "only ECS may assume it"
