"""What ``explain`` diagnoses, gathered from the evidence: refused calls of the store's usage
rows, ECS's failed ``AssumeRole`` calls, and stopped tasks whose message a rule of
``iam/data/ecs_failures.csv`` explains; each becomes an ``Attempt`` (``analysis.explain``
diagnoses them). Pure: records in, attempts out, merged by role, action, resource and region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from rightsizer.analysis.verdicts import usage_call
from rightsizer.iam.actions import event_actions
from rightsizer.iam.ecs import TaskDefinition
from rightsizer.iam.ecs_failures import FailureRule, match_stopped_reason
from rightsizer.iam.resources import derive_resources
from rightsizer.iam.trust import ASSUME_ROLE
from rightsizer.store.records import AssumeRoleFailure, UsageRow

__all__ = ["Attempt", "StoppedTask", "attempts_from_assume_failures",
           "attempts_from_stopped_tasks", "attempts_from_usage", "authorized_actions",
           "succeeded_calls"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """A refused call, or a stopped task, to explain."""

    role_arn: str
    action: str | None  # None: the evidence names no action (a stopped task's message)
    resource: str  # "*" when the evidence does not name it
    region: str
    count: int  # refused calls, stopped tasks; 0 for a failure the inventory predicts
    first_seen: datetime | None
    last_seen: datetime | None
    source: str  # cloudtrail | stopped_task | inventory
    detail: str  # the error code, or the stopped reason
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rule: FailureRule | None = None  # the stopped-task rule that matched
    account: str = ""


@dataclass(frozen=True, slots=True)
class StoppedTask:
    """One task ``aws ecs describe-tasks`` shows stopped, with the reasons it gives."""

    task_arn: str
    task_definition_arn: str
    region: str
    account: str
    reasons: tuple[str, ...]  # stoppedReason, then each container's reason
    stopped_at: datetime | None


def succeeded_calls(rows: Iterable[UsageRow]) -> set[tuple[str, str]]:
    """(role ARN, action) of every call IAM authorized: evidence that a need is met. A call that
    failed after authorization (``error``: CreateLogGroup on a group that exists) counts."""
    return authorized_actions((row.principal, row.event_source, row.event_name)
                              for row in rows if row.error_class in ("ok", "error"))


def authorized_actions(calls: Iterable[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(role ARN, action) of calls IAM authorized, given as (role ARN, eventSource, eventName):
    the keys of ``Store.call_sessions``, say."""
    found: set[tuple[str, str]] = set()
    for principal, source, name in calls:
        found.update((principal, action) for action in event_actions(source, name).actions)
    return found


def attempts_from_usage(rows: Iterable[UsageRow]) -> list[Attempt]:
    """The refused calls among usage rows, one attempt per role, action, resource and region."""
    merged: dict[tuple[str, str, str, str], Attempt] = {}
    for row in rows:
        if row.error_class != "denied":
            continue
        mapping = event_actions(row.event_source, row.event_name)
        if mapping.status != "mapped":
            continue
        call = usage_call(row)
        context = _service_context(row.invoked_by, row.region)
        for action in mapping.actions:
            derived = derive_resources(action, call)
            for resource in (derived.arns if derived.known and derived.arns else ("*",)):
                key = (row.principal, action, resource, row.region)
                attempt = Attempt(row.principal, action, resource, row.region, row.calls,
                                  row.first_seen, row.last_seen, "cloudtrail",
                                  row.error_code or "AccessDenied", context,
                                  account=row.account)
                merged[key] = _merge(merged.get(key), attempt)
    return [merged[key] for key in sorted(merged)]  # usage rows come in no set order


def attempts_from_assume_failures(rows: Iterable[AssumeRoleFailure]) -> list[Attempt]:
    """Failed ``sts:AssumeRole`` calls ECS made for tasks."""
    return [Attempt(row.role_arn, ASSUME_ROLE, row.role_arn, row.region, row.failures,
                    row.first_seen, row.last_seen, "cloudtrail", row.error_code,
                    account=row.account) for row in rows]


def attempts_from_stopped_tasks(tasks: Iterable[StoppedTask],
                                task_definitions: Sequence[TaskDefinition]) -> list[Attempt]:
    """One attempt per stopped task whose reason a rule of ``ecs_failures.csv`` explains,
    merged by role, cause and what the message names."""
    by_arn = {td.arn: td for td in task_definitions}
    merged: dict[tuple[str, str, str, str], Attempt] = {}
    for task in tasks:
        td = by_arn.get(task.task_definition_arn)
        for reason in task.reasons:
            found = match_stopped_reason(reason)
            if found is None:
                continue
            role = _stopped_role(found.rule.code, reason, td)
            if role is None:
                continue
            attempt = Attempt(role, found.action, found.resource or "*", task.region, 1,
                              task.stopped_at, task.stopped_at, "stopped_task", reason,
                              rule=found.rule, account=task.account)
            key = (role, found.rule.code, found.action or "", attempt.resource)
            merged[key] = _merge(merged.get(key), attempt)
            break  # the first explained reason of a task is its cause
    return [merged[key] for key in sorted(merged)]  # usage rows come in no set order


def _stopped_role(code: str, reason: str, td: TaskDefinition | None) -> str | None:
    if code == "ROLE_NOT_ASSUMABLE":
        named = reason.split("role '", 1)[-1].split("'", 1)[0] if "role '" in reason else None
        if named and named.startswith("arn:"):
            return named
    return td.execution_role_arn if td else None


def _merge(old: Attempt | None, new: Attempt) -> Attempt:
    if old is None:
        return new
    firsts = [t for t in (old.first_seen, new.first_seen) if t]
    lasts = [t for t in (old.last_seen, new.last_seen) if t]
    return replace(old, count=old.count + new.count, first_seen=min(firsts, default=None),
                   last_seen=max(lasts, default=None))


def _service_context(invoked_by: str, region: str) -> dict[str, tuple[str, ...]]:
    """A call a service made for the role (Secrets Manager decrypting with KMS) carries
    ``kms:ViaService`` = that service's endpoint in the region."""
    if not invoked_by.endswith(".amazonaws.com") or not region:
        return {}
    service = invoked_by.removesuffix(".amazonaws.com")
    return {"kms:ViaService": (f"{service}.{region}.amazonaws.com",),
            "aws:CalledVia": (invoked_by,)}
