"""What a role is granted, action by action, expanded through the catalog.

An action is granted when an Allow statement of the role's identity policies names it (Action
patterns expanded through the catalog; NotAction as every catalog action but those), the
permissions boundary (when there is one) allows it too, and no Deny without conditions takes it
on every resource. For each granted action the statements that grant it are kept: their Resource
patterns bound what a proposal may ever allow, and their conditions travel with it.
(IAM policy evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rightsizer.iam.catalog import catalog
from rightsizer.iam.policy import Policy, Statement

__all__ = ["Grant", "Grants", "expand_statement", "role_grants"]


@dataclass(frozen=True, slots=True)
class Grant:
    """One granted action and the Allow statements (of identity policies) that grant it."""

    action: str
    statements: tuple[Statement, ...]

    @property
    def resources(self) -> tuple[str, ...]:
        """The Resource patterns of the granting statements; NotResource grants count as "*"
        here (callers that scope must not widen them: see ``only_not_resource``)."""
        found: set[str] = set()
        for statement in self.statements:
            if statement.resources is not None:
                found.update(statement.resources)
            else:
                found.add("*")
        return tuple(sorted(found))

    @property
    def only_not_resource(self) -> bool:
        return all(s.resources is None for s in self.statements)


@dataclass(frozen=True, slots=True)
class Grants:
    actions: dict[str, Grant]  # canonical action -> grant
    denies: tuple[Statement, ...]  # every Deny statement of the identity policies

    def __contains__(self, action: str) -> bool:
        return action in self.actions


def expand_statement(statement: Statement) -> frozenset[str]:
    """The catalog actions a statement's Action (or NotAction) covers."""
    cat = catalog()
    if statement.actions is not None:
        return frozenset().union(*(cat.expand(p) for p in statement.actions))
    assert statement.not_actions is not None
    excluded = frozenset().union(*(cat.expand(p) for p in statement.not_actions))
    return frozenset(info.key for info in cat.all_actions) - excluded


def _denied_everywhere(statements: Iterable[Statement]) -> frozenset[str]:
    denied: set[str] = set()
    for statement in statements:
        if statement.effect == "Deny" and not statement.conditions and (
                statement.resources is not None and "*" in statement.resources):
            denied |= expand_statement(statement)
    return frozenset(denied)


def role_grants(policies: Sequence[Policy], boundary: Policy | None = None) -> Grants:
    """Every action the role's identity policies grant, capped by the boundary."""
    statements = [s for p in policies for s in p.statements]
    granting: dict[str, list[Statement]] = defaultdict(list)
    for statement in statements:
        if statement.effect == "Allow":
            for action in expand_statement(statement):
                granting[action].append(statement)
    allowed = set(granting)
    if boundary is not None:
        bounded: set[str] = set()
        for statement in boundary.statements:
            if statement.effect == "Allow":
                bounded |= expand_statement(statement)
        allowed &= bounded
        allowed -= _denied_everywhere(boundary.statements)
    allowed -= _denied_everywhere(statements)
    return Grants(
        actions={a: Grant(a, tuple(granting[a])) for a in sorted(allowed)},
        denies=tuple(s for s in statements if s.effect == "Deny"),
    )
