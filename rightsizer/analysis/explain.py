"""Why an ECS role's call was refused, or its task stopped, and the smallest fix: never a grant
the role does not need.

Why: a refused call is evidence of a missing permission only when something declared needs it.
The execution role's needs are all declared in the task definition (``iam.ecs``); the task
role's are declared only in part (EFS, FireLens, AWS's sidecars). So a refusal of a declared
need gets a fix, scoped as the declaration is; any other refusal is shown as what it is (a bug
in the application, or someone probing with the role's credentials) and gets no grant: at most
the statement that would allow it, should the application truly need it.

Pure: ``Attempt`` values (``analysis.attempts``: from CloudTrail through the store, from
stopped tasks; or from the inventory itself) and the inventory in, ``Failure`` values out. The
attempt builders are re-exported here, so one import serves the pipeline and notebooks.

How a refusal is diagnosed, with rightsizer's evaluator over the role's identity policies and
its permissions boundary (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
- an explicit Deny of the role's policies: ``EXPLICIT_DENY``, the statement named; the fix is
  to narrow that Deny, checked by evaluating without it;
- no Allow, and the boundary allows: ``MISSING_ALLOW``; the fix is the statement to add;
- the identity policies allow and the boundary does not: ``PERMISSION_BOUNDARY``; the fix is the
  statement to add to the boundary;
- the role's own policies allow it: the refusal came from elsewhere. An ECR repository of another
  account needs its repository policy to allow the role (``REPOSITORY_POLICY``,
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html); a KMS
  key its key policy (``KEY_POLICY``,
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html); anything
  else is ``DENIED_OUTSIDE_ROLE`` (an SCP, a resource or session policy, a VPC endpoint
  policy), with no fix rightsizer can check;
- allowed only under conditions the call did not meet: ``CONDITION_NOT_MET``.
A fix is ``verified`` when the evaluator allows the refused call with the fix applied and still
refuses the same action on a resource the declaration does not name.

Trust: ECS assumes both roles as ``ecs-tasks.amazonaws.com`` (``iam.trust``). A failed
``AssumeRole`` by ECS, a stopped task that says ECS could not assume the role, or a task
definition naming a role whose trust does not let ECS in, is ``TRUST_WRONG_PRINCIPAL`` (no
statement lets ECS assume it: the principal is another, such as ``ec2.amazonaws.com``) or
``TRUST_CONDITION_MISMATCH`` (an ``aws:SourceArn`` / ``aws:SourceAccount`` condition that the
task's region or account does not meet); the fix is the trust statement AWS recommends
(``iam.trust.ecs_trust_policy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rightsizer.analysis.attempts import (
    Attempt,
    StoppedTask,
    attempts_from_assume_failures,
    attempts_from_stopped_tasks,
    attempts_from_usage,
    authorized_actions,
    succeeded_calls,
)
from rightsizer.analysis.inventory import Inventory, InventoryRole, role_key
from rightsizer.iam.ecs import Need, ecr_pull_statement
from rightsizer.iam.evaluate import Decision, Request, evaluate
from rightsizer.iam.patterns import matches, sample_match
from rightsizer.iam.policy import Policy, parse_policy
from rightsizer.iam.trust import ASSUME_ROLE, ECS_TASKS, ecs_trust_policy, service_trust

__all__ = [
    "Attempt",
    "Cause",
    "Failure",
    "Fix",
    "StoppedTask",
    "attempts_from_assume_failures",
    "attempts_from_stopped_tasks",
    "attempts_from_usage",
    "authorized_actions",
    "explain",
    "succeeded_calls",
]

# What ECS shows for a refused call of the execution role, by service.
_SYMPTOM = {"ecr": "CannotPullContainerError", "secretsmanager": "ResourceInitializationError",
            "ssm": "ResourceInitializationError", "kms": "ResourceInitializationError",
            "logs": "ResourceInitializationError", "s3": "ResourceInitializationError"}
# Which declared needs a stopped task's cause points at, when its message names no action.
_RULE_SERVICES = {"ECR_PULL_DENIED": "ecr", "REGISTRY_AUTH_DENIED": "ecr",
                  "SECRET_DENIED": "secretsmanager", "PARAMETER_DENIED": "ssm",
                  "KMS_DENIED": "kms", "LOG_STREAM_DENIED": "logs", "LOG_GROUP_MISSING": "logs"}
_FRESH = "0123456789abcdef0123456789abcdef"  # a task id no grant was written for


@dataclass(frozen=True, slots=True)
class Cause:
    code: str
    sentence: str


@dataclass(frozen=True, slots=True)
class Fix:
    where: str  # identity_policy | permissions_boundary | deny_statement | trust_policy |
    #             repository_policy | key_policy
    account: str  # the account in which to make it
    statement: Mapping[str, Any] | None  # the statement to add (None for a change in words)
    change: str
    verified: bool  # the evaluator lets the refused call through with it, and no other resource

    def as_json(self) -> dict[str, Any]:
        return {"where": self.where, "account": self.account,
                "statement": dict(self.statement) if self.statement else None,
                "change": self.change, "verified": self.verified}


@dataclass(frozen=True, slots=True)
class Failure:
    role: str
    role_arn: str
    action: str | None
    resource: str
    region: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    cause: Cause
    denied_by: tuple[str, ...]  # the statements that refused it, or what allows nothing
    fix: Fix | None
    no_fix: str | None  # why there is no fix, when there is none
    source: str
    symptom: str | None  # what ECS shows: CannotPullContainerError, ResourceInitializationError
    detail: str
    if_needed: Mapping[str, Any] | None = None  # the statement, should the app truly need it
    stopped_tasks: int = 0  # stopped tasks this failure explains

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role, "role_arn": self.role_arn, "action": self.action,
            "resource": self.resource, "region": self.region, "count": self.count,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "cause": {"code": self.cause.code, "sentence": self.cause.sentence},
            "denied_by": list(self.denied_by),
            "fix": self.fix.as_json() if self.fix else None,
            "no_fix": self.no_fix, "source": self.source, "symptom": self.symptom,
            "detail": self.detail,
            "if_needed": dict(self.if_needed) if self.if_needed else None,
            "stopped_tasks": self.stopped_tasks,
        }


# --- diagnosis ------------------------------------------------------------------------------


def explain(attempts: Iterable[Attempt], inventory: Inventory,
            succeeded: Iterable[tuple[str, str]] = ()) -> tuple[Failure, ...]:
    """Each attempt diagnosed against the role it names, plus the failures the inventory
    predicts (a task definition naming a role ECS cannot assume, a declared need its role's
    policies refuse) unless ``succeeded`` (role ARN, action) shows the call went through (then
    something outside the role's policies allows it); sorted by role, then count (most
    first), then action."""
    worked = {(role_key(arn), action.lower()) for arn, action in succeeded}
    roles = {role_key(r.arn): r for r in inventory.roles}
    failures: list[Failure] = []
    seen: set[tuple[str, str | None, str]] = set()
    for attempt in attempts:
        role = roles.get(role_key(attempt.role_arn))
        if attempt.source == "cloudtrail" and attempt.action != ASSUME_ROLE and not (
                role is not None and role.ecs):
            continue  # a refused call of a role that is not an ECS task's
        failures.extend(_diagnose(attempt, role))
    for failure in failures:
        seen.add((role_key(failure.role_arn)[1], failure.action, failure.cause.code))
    for attempt in _predicted(inventory):
        if (role_key(attempt.role_arn), (attempt.action or "").lower()) in worked:
            continue
        role = roles[role_key(attempt.role_arn)]
        for failure in _diagnose(attempt, role):
            if (role.name, failure.action, failure.cause.code) not in seen:
                failures.append(failure)
    return tuple(sorted(_fold_stopped(_collapse_unfixable(failures)),
                        key=lambda f: (f.role, -f.count, f.action or "", f.resource)))


def _fold_stopped(failures: list[Failure]) -> list[Failure]:
    """A stopped task explained by a refusal CloudTrail also shows is one failure: the
    refusal's, with the stopped tasks it explains counted on it. A stopped task whose message
    names no action folds into a refusal of the service its cause points at."""
    out: list[Failure] = [f for f in failures if f.source != "stopped_task"]
    for failure in failures:
        if failure.source != "stopped_task":
            continue
        service = _RULE_SERVICES.get(failure.cause.code)
        target = next((i for i, f in enumerate(out) if f.role_arn == failure.role_arn and (
            (f.action, f.resource, f.cause.code)
            == (failure.action, failure.resource, failure.cause.code)
            or (failure.action is None and service is not None and f.action is not None
                and f.action.startswith(f"{service}:")))), None)
        if target is None:
            out.append(replace(failure, stopped_tasks=failure.count))
            continue
        old = out[target]
        source = old.source if old.source.endswith("+stopped_task") else (
            f"{old.source}+stopped_task")
        out[target] = replace(old, stopped_tasks=old.stopped_tasks + failure.count,
                              source=source)
    return out


def _predicted(inventory: Inventory) -> list[Attempt]:
    """What will fail before any task starts: roles ECS cannot assume, refused declared needs."""
    attempts: list[Attempt] = []
    for role in inventory.ecs_roles:
        if not role.uses or not role.in_iam_data:
            continue
        regions = sorted({td.region or "" for td in inventory.task_definitions
                          if td.arn in role.task_definitions})
        region = regions[0] if regions else ""
        if role.trust is not None and not role.trust.assumable:
            attempts.append(Attempt(role.arn, ASSUME_ROLE, role.arn, region, 0, None, None,
                                    "inventory", "the task definitions name it"))
        for need in role.needs:
            if need.optional or not need.resource_known:
                continue
            resource = need.resource if need.resource == "*" else _sample(need.resource)
            for action in need.actions:
                request = Request(action, resource, context_complete=False)
                if not evaluate(request, role.policies, boundary=role.boundary).allowed:
                    attempts.append(Attempt(role.arn, action, resource, _region_of(resource,
                                            region), 0, None, None, "inventory",
                                            f"declared by {need.field}"))
    return attempts


def _diagnose(attempt: Attempt, role: InventoryRole | None) -> list[Failure]:
    name = attempt.role_arn.rsplit("/", 1)[-1]
    if role is None:
        return [_failure(attempt, name, Cause("ROLE_NOT_IN_IAM_DATA",
                         f"{name} is not in the IAM data read: nothing to check it against"),
                         (), None, "read the role's IAM data (--iam) to diagnose it")]
    if attempt.action == ASSUME_ROLE:
        return [_trust(attempt, role)]
    if attempt.action is None:
        return _from_rule(attempt, role)
    return [_refused(attempt, role)]


def _from_rule(attempt: Attempt, role: InventoryRole) -> list[Failure]:
    """A stopped task whose message names no action: its rule, and the declared needs of the
    service the rule points at that the role's policies refuse."""
    rule = attempt.rule
    assert rule is not None
    if rule.code == "ROLE_NOT_ASSUMABLE":
        return [_trust(replace(attempt, action=ASSUME_ROLE, resource=role.arn), role)]
    service = _RULE_SERVICES.get(rule.code)
    refused = [(action, need) for need in role.needs if not need.optional
               for action in need.actions if service and action.startswith(f"{service}:")
               and need.resource_known
               and not _allowed(role, action, _sample(need.resource))]
    if refused:
        return [_refused(replace(attempt, action=action, resource=_sample(need.resource)), role)
                for action, need in refused]
    unnamed = [need for need in role.needs if service and not need.resource_known
               and any(a.startswith(f"{service}:") for a in need.actions)]
    why = {"network": "no IAM change helps: fix the route or add the VPC endpoints",
           "none": "no IAM change helps: push the image, or correct its name or tag"}.get(
        rule.fix, "the role's policies allow every declared need of this kind: the cause is "
                  "outside them (a resource or key policy, an SCP, the network)")
    if unnamed and rule.fix == "iam":
        why = (f"the task definition does not name the resource ({unnamed[0].reason}); the "
               "refused call in CloudTrail names it: run explain with the store holding the "
               "logs of the task's start")
    return [_failure(attempt, role.name, Cause(rule.code, f"{rule.cause} ({rule.source})"),
                     (), None, why, symptom=rule.error or None)]


def _refused(attempt: Attempt, role: InventoryRole) -> Failure:
    action = attempt.action
    assert action is not None
    request = Request(action, attempt.resource, attempt.context, context_complete=False)
    decision = evaluate(request, role.policies, boundary=role.boundary)
    needs = _declaring(role, action, attempt.resource)
    symptom = (attempt.rule.error if attempt.rule and attempt.rule.error else
               _SYMPTOM.get(action.split(":", 1)[0]) if "execution" in role.kinds else None)
    fix_statement = _statement(action, attempt.resource, needs, attempt.context)
    if decision.allowed and not decision.conditional:
        return _refused_elsewhere(attempt, role, decision, symptom)
    if not needs:
        return _failure(
            attempt, role.name, Cause("NOT_NEEDED", f"nothing {_declarer(role)} declares "
                                      f"{action}: a bug in the application or a probe with the "
                                      "role's credentials, not a missing permission"),
            _denied_by(decision), None, "no grant is made for a call nothing needs",
            symptom=None, if_needed=fix_statement)
    if decision.allowed:  # allowed only under conditions the call did not meet
        keys = ", ".join(decision.unknown_keys)
        return _failure(attempt, role.name, Cause(
            "CONDITION_NOT_MET", f"{', '.join(decision.decided_by)} allows {action} only when "
            f"{keys} match, and the refused call did not"), decision.decided_by, None,
            f"check what {keys} held on the call against the statement's condition",
            symptom=symptom)
    if decision.effect == "explicit_deny":
        fix = _fix_deny(role, request, decision, attempt.account or _account(role.arn))
        return _failure(attempt, role.name, Cause(
            "EXPLICIT_DENY", f"{', '.join(decision.decided_by)} denies {action} on "
            f"{attempt.resource}, which {needs[0].field} needs"), decision.decided_by, fix,
            None, symptom=symptom)
    boundary = bool(decision.decided_by) and decision.decided_by[0].startswith("boundary ")
    where = "permissions_boundary" if boundary else "identity_policy"
    fix = Fix(where, _account(role.arn), fix_statement,
              (f"add this statement to the permissions boundary {role.boundary.name}"
               if boundary and role.boundary else f"add this statement to a policy of "
               f"{role.name}"), _verify(role, request, fix_statement, boundary, needs))
    cause = (Cause("PERMISSION_BOUNDARY", f"the permissions boundary of {role.name} allows no "
                   f"{action} on {attempt.resource}, which {needs[0].field} needs")
             if boundary else
             Cause("MISSING_ALLOW", f"no statement of {role.name} allows {action} on "
                   f"{attempt.resource}, which {needs[0].field} needs"))
    denied_by = decision.decided_by or (f"no statement of {role.name} allows it",)
    return _failure(attempt, role.name, cause, denied_by, fix, None, symptom=symptom)


def _refused_elsewhere(attempt: Attempt, role: InventoryRole, decision: Decision,
                       symptom: str | None) -> Failure:
    """The role's own policies allow it: the refusal is the resource's, or an SCP's."""
    action = attempt.action or ""
    owner = attempt.resource.split(":")[4] if attempt.resource.count(":") >= 5 else ""
    account = attempt.account or _account(role.arn)
    allowed = ", ".join(decision.decided_by)
    if action.startswith("ecr:") and owner and owner != account:
        statement = ecr_pull_statement(role.arn)
        return _failure(attempt, role.name, Cause(
            "REPOSITORY_POLICY", f"the repository is in account {owner}, and its repository "
            f"policy does not allow {role.name} (its own policies allow it: {allowed})"),
            (f"the repository policy of {attempt.resource}",),
            Fix("repository_policy", owner, statement,
                f"in account {owner}, add this statement to the repository policy of "
                f"{attempt.resource.split(':repository/', 1)[-1]}",
                _verify_resource_side(role, statement, action, attempt.resource)),
            None, symptom=symptom)
    if action.startswith("kms:"):
        via = attempt.context.get("kms:ViaService", ())
        statement: dict[str, Any] = {"Sid": "AllowDecryptForEcs", "Effect": "Allow",
                                     "Principal": {"AWS": role.arn}, "Action": action,
                                     "Resource": "*"}
        if via:
            statement["Condition"] = {"StringEquals": {"kms:ViaService": list(via)}}
        return _failure(attempt, role.name, Cause(
            "KEY_POLICY", f"the key policy of {attempt.resource} does not let {role.name} use "
            f"it (its own policies allow {action}: {allowed})"),
            (f"the key policy of {attempt.resource}",),
            Fix("key_policy", owner or account, statement,
                f"add this statement to the key policy of {attempt.resource}",
                _verify_resource_side(role, statement, action, attempt.resource)),
            None, symptom=symptom)
    return _failure(attempt, role.name, Cause(
        "DENIED_OUTSIDE_ROLE", f"the policies of {role.name} allow {action} ({allowed}); "
        "the refusal comes from outside them: an SCP, a resource policy, a session policy or "
        "a VPC endpoint policy"), (), None,
        "the role's own policies already allow it: look at the SCPs, the resource's policy "
        "and the VPC endpoint's policy", symptom=symptom)


def _trust(attempt: Attempt, role: InventoryRole) -> Failure:
    account = _account(role.arn)
    partition = role.arn.split(":")[1]
    regions = sorted({r for r in (attempt.region, *_td_regions(role)) if r})
    recommended = ecs_trust_policy(partition, account, regions or ["*"])
    statement = recommended["Statement"][0]
    trust = role.trust_policy
    assumable = service_trust(trust, ECS_TASKS)
    if not assumable.assumable:
        cause = Cause("TRUST_WRONG_PRINCIPAL", f"ECS cannot assume {role.name}: "
                      f"{assumable.reason}")
        denied_by: tuple[str, ...] = (f"the trust policy of {role.name}",)
    else:
        conditions = _trust_conditions_fail(trust, account, partition, regions)
        if not conditions:
            return _failure(attempt, role.name, Cause(
                "DENIED_OUTSIDE_ROLE", f"the trust policy of {role.name} lets ECS assume it "
                "in this account and region; the refusal comes from elsewhere (an SCP, or "
                "iam:PassRole of whoever started the task)"), (), None,
                "the trust policy already allows ECS", symptom=None)
        cause = Cause("TRUST_CONDITION_MISMATCH", f"the trust policy of {role.name} lets "
                      f"ECS assume it only where {', '.join(conditions)} match, and tasks in "
                      f"{', '.join(regions) or 'this region'} of {account} do not")
        denied_by = assumable.allowing
    fixed = parse_policy(recommended, name="fix", kind="trust")
    verified = (service_trust(fixed, ECS_TASKS).assumable
                and not _trust_conditions_fail(fixed, account, partition, regions))
    fix = Fix("trust_policy", account, statement,
              f"replace the trust policy's statement for ECS with this one "
              f"(aws iam update-assume-role-policy --role-name {role.name})", verified)
    return _failure(attempt, role.name, cause, denied_by, fix, None, symptom=None)


def _trust_conditions_fail(trust: Policy | None, account: str, partition: str,
                           regions: Sequence[str]) -> list[str]:
    """The condition keys of the trust's ECS statements that a task of the account, in one of
    ``regions``, would not meet."""
    if trust is None:
        return ["(no trust policy)"]
    failing: set[str] = set()
    for region in regions or ("us-east-1",):
        context = {"aws:SourceAccount": (account,),
                   "aws:SourceArn": (f"arn:{partition}:ecs:{region}:{account}:task/-/{_FRESH}",)}
        request = Request(ASSUME_ROLE, "*", context, context_complete=True)
        statements = tuple(s for s in trust.statements if s.effect == "Allow"
                           and ECS_TASKS in _services(s))
        policy = replace(trust, statements=statements)
        if not evaluate(request, [policy]).allowed:
            failing.update(c.key for s in statements for c in s.conditions)
    return sorted(failing)


def _services(statement: Any) -> set[str]:
    return {v.lower() for k, values in statement.principals or () if k.lower() == "service"
            for v in values}


def _collapse_unfixable(failures: list[Failure]) -> list[Failure]:
    """A refused call that gets no fix (nothing needs it, or the refusal is outside the role)
    is shown once per role, action and cause, whatever the resources: a list of every object
    a probe touched says nothing more."""
    out: list[Failure] = []
    merged: dict[tuple[str, str | None, str], Failure] = {}
    for failure in failures:
        if failure.fix is not None or failure.source != "cloudtrail" or failure.action is None:
            out.append(failure)
            continue
        key = (failure.role_arn, failure.action, failure.cause.code)
        old = merged.get(key)
        if old is None:
            merged[key] = failure
            continue
        firsts = [t for t in (old.first_seen, failure.first_seen) if t]
        lasts = [t for t in (old.last_seen, failure.last_seen) if t]
        resource = old.resource if old.resource == failure.resource else "(several)"
        merged[key] = replace(old, count=old.count + failure.count, resource=resource,
                              first_seen=min(firsts, default=None),
                              last_seen=max(lasts, default=None))
    return out + list(merged.values())


# --- fixes ----------------------------------------------------------------------------------


def _declaring(role: InventoryRole, action: str, resource: str) -> list[Need]:
    """The role's declared needs that name this action on this resource."""
    found = []
    for need in role.needs:
        if need.optional or not any(a.lower() == action.lower() for a in need.actions):
            continue
        if (not need.resource_known or need.resource == "*" or resource == "*"
                or matches(need.resource, resource, ignore_case=False)):
            found.append(need)
    return found


def _statement(action: str, resource: str, needs: Sequence[Need],
               context: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """The least statement that allows the call: the declared resource pattern (it covers the
    next task's streams too), the refused resource where the declaration names none."""
    known = sorted({n.resource for n in needs if n.resource_known})
    resources = known or [resource]
    statement: dict[str, Any] = {"Sid": "Allow" + "".join(p[:1].upper() + p[1:] for p in
                                                          action.replace(":", " ").split()),
                                 "Effect": "Allow", "Action": action,
                                 "Resource": resources[0] if len(resources) == 1 else resources}
    via = context.get("kms:ViaService")
    if action.lower().startswith("kms:") and via:
        statement["Condition"] = {"StringEquals": {"kms:ViaService": list(via)}}
    return statement


def _verify(role: InventoryRole, request: Request, statement: Mapping[str, Any],
            boundary: bool, needs: Sequence[Need]) -> bool:
    """The call goes through with the statement added, and the action on a resource no
    declaration names is still refused."""
    document = {"Version": "2012-10-17", "Statement": [dict(statement)]}
    added = parse_policy(document, name="fix", kind="boundary" if boundary else "inline")
    if boundary and role.boundary is not None:
        merged = replace(role.boundary, statements=(*role.boundary.statements,
                                                    *added.statements))
        policies, cap = list(role.policies), merged
    else:
        policies, cap = [*role.policies, added], role.boundary
    through = evaluate(request, policies, boundary=cap)
    if not through.allowed:
        return False
    stranger = replace(request, resource=_elsewhere(request.resource))
    if stranger.resource == request.resource or any(
            n.resource == "*" for n in needs if n.resource_known):
        return True  # the action takes no resource: "*" is the least there is
    before = evaluate(stranger, role.policies, boundary=role.boundary).allowed
    return before or not evaluate(stranger, policies, boundary=cap).allowed


def _verify_resource_side(role: InventoryRole, statement: Mapping[str, Any], action: str,
                          resource: str) -> bool:
    """The resource-side statement names this role and this action, no other principal."""
    principal = statement.get("Principal", {})
    actions = statement.get("Action")
    listed = actions if isinstance(actions, list) else [actions]
    return (principal == {"AWS": role.arn} and statement.get("Effect") == "Allow"
            and any(matches(a, action, ignore_case=True) for a in listed))


def _fix_deny(role: InventoryRole, request: Request, decision: Decision,
              account: str) -> Fix:
    refs = set(decision.decided_by)
    kept = [replace(p, statements=tuple(s for s in p.statements if s.ref not in refs))
            for p in role.policies]
    boundary = role.boundary
    if boundary is not None:
        boundary = replace(boundary, statements=tuple(s for s in boundary.statements
                                                      if s.ref not in refs))
    verified = evaluate(request, kept, boundary=boundary).allowed
    return Fix("deny_statement", account, None,
               f"narrow {', '.join(decision.decided_by)} so that it no longer covers "
               f"{request.action} on {request.resource} (a NotResource entry or a Condition); "
               "the role's other statements already allow it" if verified else
               f"narrow {', '.join(decision.decided_by)}, then allow {request.action}",
               verified)


def _denied_by(decision: Decision) -> tuple[str, ...]:
    if decision.decided_by:
        return decision.decided_by
    return ("no statement allows it",)


def _failure(attempt: Attempt, role: str, cause: Cause, denied_by: tuple[str, ...],
             fix: Fix | None, no_fix: str | None, *, symptom: str | None = None,
             if_needed: Mapping[str, Any] | None = None) -> Failure:
    return Failure(role=role, role_arn=attempt.role_arn, action=attempt.action,
                   resource=attempt.resource, region=attempt.region, count=attempt.count,
                   first_seen=attempt.first_seen, last_seen=attempt.last_seen, cause=cause,
                   denied_by=denied_by, fix=fix, no_fix=no_fix if fix is None else None,
                   source=attempt.source, symptom=symptom, detail=attempt.detail,
                   if_needed=if_needed)


def _allowed(role: InventoryRole, action: str, resource: str) -> bool:
    decision = evaluate(Request(action, resource, context_complete=False), role.policies,
                        boundary=role.boundary)
    return decision.allowed


def _declarer(role: InventoryRole) -> str:
    return ("in the task definitions of " + role.name) if role.uses else ("for " + role.name)


def _sample(pattern: str) -> str:
    """A resource the pattern matches that no one wrote a grant for (a fresh task's stream)."""
    return sample_match(pattern, _FRESH)


def _elsewhere(resource: str) -> str:
    """A resource of the same kind that no declaration names: a folder inserted after the
    resource's first name part (``log-stream:ecs/app/ID`` -> ``ecs/rightsizer-other/app/ID``,
    ``repository/app`` -> ``repository/rightsizer-other/app``), so a pattern written for the
    declared resource does not match it."""
    if resource == "*" or resource.count(":") < 5:
        return resource
    head, _, tail = resource.rpartition(":")
    first, slash, rest = tail.partition("/")
    tail = f"{first}/rightsizer-other/{rest}" if slash else f"rightsizer-other-{tail}"
    return f"{head}:{tail}"


def _region_of(resource: str, default: str) -> str:
    parts = resource.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _td_regions(role: InventoryRole) -> list[str]:
    return sorted({use.task_definition.split(":")[3] for use in role.uses})
