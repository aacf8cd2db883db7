"""What a proposal is: the statements of a minimized policy, the documents they are split into,
and the changes against the role's current grants that a reviewer reads in ``diff.md``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from rightsizer.iam.policy import Condition

__all__ = ["ActionChange", "Generalized", "PolicyDocument", "ProposedStatement", "RoleProposal",
           "conditions_json"]

POLICY_VERSION = "2012-10-17"


def conditions_json(conditions: tuple[Condition, ...]) -> dict[str, dict[str, Any]]:
    """IAM's Condition block: ``{operator: {key: value or [values]}}``, sorted."""
    block: dict[str, dict[str, Any]] = defaultdict(dict)
    for condition in sorted(conditions, key=lambda c: (c.operator, c.key, c.values)):
        values = list(condition.values)
        block[condition.operator][condition.key] = values[0] if len(values) == 1 else values
    return {op: dict(sorted(keys.items())) for op, keys in sorted(block.items())}


@dataclass(frozen=True, slots=True)
class ProposedStatement:
    """One statement of a proposed policy. Allow statements name actions and resources; the
    original Deny statements that still bear on kept actions are carried over as they were
    (``effect="Deny"``, possibly with NotAction / NotResource), so that the proposal never
    allows what the role's own policies denied."""

    sid: str
    actions: tuple[str, ...]  # canonical "service:Action", sorted (patterns in carried Denies)
    resources: tuple[str, ...]  # ARNs or ARN patterns, sorted; ("*",) where none can be named
    conditions: tuple[Condition, ...] = ()  # kept from the original statements
    effect: str = "Allow"
    not_actions: tuple[str, ...] = ()  # carried Denies only: NotAction instead of Action
    not_resources: tuple[str, ...] = ()  # carried Denies only: NotResource instead of Resource

    def as_json(self) -> dict[str, Any]:
        statement: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.not_actions:
            statement["NotAction"] = _one_or_list(self.not_actions)
        else:
            statement["Action"] = _one_or_list(self.actions)
        if self.not_resources:
            statement["NotResource"] = _one_or_list(self.not_resources)
        else:
            statement["Resource"] = _one_or_list(self.resources)
        if self.conditions:
            statement["Condition"] = conditions_json(self.conditions)
        return statement


def _one_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    name: str  # the managed policy's name, e.g. "rightsizer-orders-api-task" (-1, -2 when split)
    statements: tuple[ProposedStatement, ...]

    def as_json(self) -> dict[str, Any]:
        return {"Version": POLICY_VERSION, "Statement": [s.as_json() for s in self.statements]}


@dataclass(frozen=True, slots=True)
class ActionChange:
    """One granted action and what the proposal does with it, for the reviewer."""

    action: str
    verdict: str  # used, unused, not_observable, required_by_task_definition, excluded, ...
    reason: str  # why it is kept or removed, with its evidence in words


@dataclass(frozen=True, slots=True)
class Generalized:
    """A proposed resource pattern with a wildcard where the observed resources differed per
    task or request: tomorrow's ids fit it, the names it keeps do not change."""

    action: str
    pattern: str
    rule: str  # "task id", "hex id, date", "varies (2 values)", "prefix (4 keys)", ...
    observed: int  # how many distinct resources it was generalized from
    examples: tuple[str, ...]  # up to three of them, sorted

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "pattern": self.pattern, "rule": self.rule,
                "observed": self.observed, "examples": list(self.examples)}


@dataclass(frozen=True, slots=True)
class RoleProposal:
    role_name: str
    role_arn: str
    documents: tuple[PolicyDocument, ...]  # one, or several when one would exceed IAM's limit
    kept: tuple[ActionChange, ...]  # sorted by action
    removed: tuple[ActionChange, ...]  # sorted by action
    current_inline: tuple[str, ...]  # names of the inline policies the proposal replaces
    current_managed: tuple[str, ...]  # ARNs of the managed policies the proposal replaces
    account: str
    generalized: tuple[Generalized, ...] = ()  # sorted by action, pattern
    # Declared needs the role used although its own policies do not grant them: proposed,
    # scoped to what the task definition names (the only Allows not within a granting statement).
    added: tuple[ActionChange, ...] = ()

    @property
    def statements(self) -> tuple[ProposedStatement, ...]:
        return tuple(s for d in self.documents for s in d.statements)
