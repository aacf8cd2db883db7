"""Why an ECS task stopped before it ran, from the messages ECS puts in ``stoppedReason`` and a
container's ``reason``: a cause code, and the action and resource the message names.

Why a table: the messages are AWS's, documented per error (``data/ecs_failures.csv``, one row a
cause with its source page), and the order of the rows is the order of the checks: the first
row whose ``error`` prefix (empty: any) and ``pattern`` (a case-insensitive regular expression;
empty: any) match gives the cause. A message that matches no row is not a failure of IAM's
making (an application exiting, out of memory, a health check) and gets no cause here.

``fix`` says where a fix lies: ``iam`` (the role's policies, or a repository or key policy),
``trust`` (the role's trust policy), ``network`` (routes or VPC endpoints: no IAM change helps),
``none`` (the image is missing), ``unknown``.

AccessDenied messages name what was refused: "User: arn:aws:sts::ACCT:assumed-role/ROLE/TASK is
not authorized to perform: ACTION on resource: ARN" (the IAM access-denied message format,
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
Pure: text in, a match out.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["FailureMatch", "FailureRule", "match_stopped_reason", "refused_call"]

_COLUMNS = ("code", "error", "pattern", "cause", "fix", "source")
_REFUSED = re.compile(
    r"not authorized to perform:?\s+(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9*]+)"
    r"(?:\s+on resource:?\s+(?P<resource>arn:[^\s\"'(),]+|\*))?")


@dataclass(frozen=True, slots=True)
class FailureRule:
    code: str
    error: str  # the message's prefix (CannotPullContainerError, ...), or "" for any
    pattern: re.Pattern[str] | None
    cause: str
    fix: str  # iam | trust | network | none | unknown
    source: str  # the AWS page that documents it


@dataclass(frozen=True, slots=True)
class FailureMatch:
    rule: FailureRule
    action: str | None  # what the message says was refused, when it says
    resource: str | None


@cache
def rules() -> tuple[FailureRule, ...]:
    text = resources.files("rightsizer.iam").joinpath("data", "ecs_failures.csv").read_text(
        "utf-8")
    reader = csv.reader(text.splitlines())
    if tuple(next(reader)) != _COLUMNS:
        raise ValueError(f"ecs_failures.csv: the columns must be {', '.join(_COLUMNS)}")
    return tuple(
        FailureRule(code, error, re.compile(pattern, re.IGNORECASE | re.DOTALL) if pattern
                    else None, cause, fix, source)
        for code, error, pattern, cause, fix, source in reader)


def refused_call(message: str) -> tuple[str | None, str | None]:
    """(action, resource) an AccessDenied message names, each None when it does not."""
    found = _REFUSED.search(message)
    if not found:
        return None, None
    resource = found["resource"]
    return found["action"], resource.rstrip(".") if resource else None


def match_stopped_reason(message: str) -> FailureMatch | None:
    """The first rule that explains ``message``, or None."""
    for rule in rules():
        if rule.error and rule.error.lower() not in message.lower():
            continue
        if rule.pattern is not None and not rule.pattern.search(message):
            continue
        action, resource = refused_call(message)
        return FailureMatch(rule, action, resource)
    return None
