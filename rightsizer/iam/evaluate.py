"""Whether a role's identity-based policies (capped by its permissions boundary) allow one request.

Why: "granted" is the left half of every verdict rightsizer gives. It must be
IAM's answer, not a keyword search: an explicit Deny wins, NotAction/NotResource grant by
exclusion, actions match case-insensitively and ARNs case-sensitively, and a boundary caps what the
identity policies allow. Where the answer hangs on condition keys CloudTrail did not record, the
decision says so (``conditional``) and names the keys instead of guessing.

Evaluation logic (single account, identity-based policies and a permissions boundary; resource
policies, SCPs and session policies are out of scope here):
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
  (an explicit deny in any policy overrides an allow; without an allow the request is implicitly
  denied)
- https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (the effective
  permissions are the intersection of the identity policies and the boundary)
Action and resource matching: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
and .../reference_policies_elements_resource.html (resource wildcards match across colons; policy
variables may appear in Resource and are substituted as in conditions).

Choices:
- ``Request.resource == "*"`` means the resource is not known (or the action takes none). A
  ``Resource`` matches it only when one of its patterns is nothing but ``*``; a specific ARN never
  does. A ``NotResource`` statement (unless it excludes ``*`` itself) *may* apply: it is treated as
  unknown, with the pseudo-key ``"resource"`` in ``unknown_keys``. So a NotResource Allow gives a
  conditional allow and a NotResource Deny makes an allow conditional, never a definite answer.
- A statement with neither Resource nor NotResource (trust and resource policies) matches every
  resource; principals are ignored (identity evaluation only).
- ``decided_by`` lists ``Statement.ref`` labels in policy order: the definite Denies for an
  explicit deny; for an allow, the identity Allows that decided it (the definite ones, else the
  conditional ones), then the boundary's, then any Deny that might apply. An implicit deny caused
  by the boundary says ``boundary <name>: no statement allows``; one caused by the identity
  policies has an empty ``decided_by`` (nothing decided it: nothing allows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from rightsizer.iam.conditions import (
    Context,
    evaluate_normalized,
    normalize_context,
    resolve_variables,
    segments_regex,
    unknown_keys,
    variable_keys,
)
from rightsizer.iam.patterns import matches
from rightsizer.iam.policy import Policy, Statement

__all__ = ["UNKNOWN_RESOURCE_KEY", "Decision", "Evaluator", "Request", "evaluate"]

# Named in Decision.unknown_keys when the answer depends on the resource the request did not name.
UNKNOWN_RESOURCE_KEY = "resource"

Tri = bool | None


@dataclass(frozen=True, slots=True)
class Request:
    """One API call as IAM authorizes it.

    ``context`` keys are lower-cased on construction and the mapping made read-only, so a Request
    is hashable and compares equal to one built with keys spelt differently."""

    action: str  # "s3:GetObject", any case
    resource: str = "*"  # the ARN authorized against; "*" = not known (module docstring)
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_complete: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", MappingProxyType(normalize_context(self.context)))

    def __hash__(self) -> int:
        return hash(
            (self.action, self.resource, tuple(sorted(self.context.items())), self.context_complete)
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool  # some Allow applies (definitely or conditionally) and no Deny definitely applies
    effect: Literal["allow", "explicit_deny", "implicit_deny"]
    conditional: bool  # the answer depends on keys (or the resource) the request did not carry
    decided_by: tuple[str, ...]
    unknown_keys: tuple[str, ...]  # sorted; only those that make this answer conditional


def evaluate(
    request: Request, policies: Sequence[Policy], *, boundary: Policy | None = None
) -> Decision:
    """IAM's decision for ``request`` under the identity policies and an optional boundary."""
    return Evaluator(policies, boundary=boundary).evaluate(request)


class Evaluator:
    """IAM's decisions under one set of identity policies and an optional boundary, for many
    requests.

    Why a class: the proof replays every distinct resource a role touched (a busy account's
    roles name hundreds of thousands of S3 keys) against the same few statements, with the same
    action and context. Whether a statement's actions match and what its conditions say of the
    context do not depend on the resource: they are worked out once per (action, context), and
    each resource then only meets the resource patterns of the statements left."""

    def __init__(self, policies: Sequence[Policy], *, boundary: Policy | None = None) -> None:
        self._policies = tuple(policies)
        self._boundary = boundary
        self._plans: dict[tuple[object, ...], _Plan] = {}

    def evaluate(self, request: Request) -> Decision:
        return self.evaluate_on(request, request.resource)

    def evaluate_on(self, request: Request, resource: str) -> Decision:
        """The decision for ``request``'s action and context on ``resource`` (in place of the
        request's own): a replay builds one request per action and region, not per resource."""
        plan = self._plan(request)
        context, complete = request.context, request.context_complete
        outcomes = tuple(_resource_applies(candidate.statement, resource, context, complete)
                         for candidate in plan.candidates)
        # Resources that meet the same statements the same way get the same decision.
        decision = plan.decisions.get(outcomes)
        if decision is None:
            decision = plan.decisions[outcomes] = self._decide(plan.candidates, outcomes)
        return decision

    def _decide(self, candidates: tuple[_Candidate, ...],
                outcomes: tuple[tuple[Tri, tuple[str, ...]], ...]) -> Decision:
        definite_denies: list[str] = []
        possible_denies: list[tuple[str, tuple[str, ...]]] = []
        identity = _Allows()
        capped = _Allows()
        for candidate, (applies, keys) in zip(candidates, outcomes, strict=True):
            if applies is False:
                continue
            stmt = candidate.statement
            if candidate.conditions is None:
                applies = None
            if candidate.condition_keys:
                keys = (*keys, *candidate.condition_keys)
            if stmt.effect == "Deny":
                if applies:
                    definite_denies.append(stmt.ref)
                else:
                    possible_denies.append((stmt.ref, keys))
            else:
                allows = capped if candidate.in_boundary else identity
                if applies:
                    allows.definite.append(stmt.ref)
                else:
                    allows.possible.append((stmt.ref, keys))
        return _decision(definite_denies, possible_denies, identity, capped, self._boundary)

    def _plan(self, request: Request) -> _Plan:
        """The statements whose actions match and whose conditions are not false, in policy
        order (the boundary's last), with what their conditions say."""
        key = (request.action, tuple(request.context.items()), request.context_complete)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(tuple(self._candidates(request)))
        return plan

    def _candidates(self, request: Request) -> Iterator[_Candidate]:
        context, complete = request.context, request.context_complete
        sources = [(policy, False) for policy in self._policies]
        if self._boundary is not None:
            sources.append((self._boundary, True))
        for policy, in_boundary in sources:
            for stmt in policy.statements:
                if not _action_matches(stmt, request.action):
                    continue
                outcome: Tri = True
                unknown: list[str] = []
                for cond in stmt.conditions:
                    result = evaluate_normalized(cond, context, complete=complete)
                    if result is False:
                        break  # one false condition settles it, whatever else is unknown
                    if result is None:
                        outcome = None
                        unknown.extend(unknown_keys(cond, context))
                else:
                    yield _Candidate(stmt, in_boundary, outcome, tuple(unknown))


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A statement that may apply to requests of one action and context."""

    statement: Statement
    in_boundary: bool
    conditions: Tri  # True: every condition holds; None: some depend on unknown keys
    condition_keys: tuple[str, ...]  # the unknown keys, in condition order


@dataclass(slots=True)
class _Plan:
    """What one action and context meet: the candidate statements, and the decisions made so
    far, by how each candidate's resource patterns met the resource."""

    candidates: tuple[_Candidate, ...]
    decisions: dict[tuple[tuple[Tri, tuple[str, ...]], ...], Decision] = field(
        default_factory=dict)


def _decision(
    definite_denies: list[str],
    possible_denies: list[tuple[str, tuple[str, ...]]],
    identity: _Allows,
    capped: _Allows,
    boundary: Policy | None,
) -> Decision:
    if definite_denies:
        return Decision(False, "explicit_deny", False, tuple(definite_denies), ())
    if not identity:
        return Decision(False, "implicit_deny", False, (), ())
    if boundary is not None and not capped:
        return Decision(
            False, "implicit_deny", False, (f"boundary {boundary.name}: no statement allows",), ()
        )

    decided_by: list[str] = []
    keys: list[str] = []
    for allows in (identity, capped):
        if allows.definite:
            decided_by.extend(allows.definite)
        else:
            for ref, unknown in allows.possible:
                decided_by.append(ref)
                keys.extend(unknown)
    for ref, unknown in possible_denies:
        decided_by.append(ref)
        keys.extend(unknown)
    conditional = (
        not identity.definite
        or (boundary is not None and not capped.definite)
        or bool(possible_denies)
    )
    return Decision(
        allowed=True,
        effect="allow",
        conditional=conditional,
        decided_by=tuple(dict.fromkeys(decided_by)),
        unknown_keys=_unique_keys(keys),
    )


@dataclass(slots=True)
class _Allows:
    definite: list[str] = field(default_factory=list)
    possible: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.definite or self.possible)


def _unique_keys(keys: list[str]) -> tuple[str, ...]:
    # Keys compare case-insensitively: keep the first spelling of each, sorted.
    first: dict[str, str] = {}
    for key in keys:
        first.setdefault(key.lower(), key)
    return tuple(first[lowered] for lowered in sorted(first))


def _action_matches(stmt: Statement, action: str) -> bool:
    if stmt.actions is not None:
        return _any_action(stmt.actions, action)
    assert stmt.not_actions is not None  # the parser guarantees exactly one
    return not _any_action(stmt.not_actions, action)


@lru_cache(maxsize=131072)
def _any_action(patterns: tuple[str, ...], action: str) -> bool:
    # Cached: a replay asks the same few statements about the same few actions for every
    # resource a role touched (hundreds of thousands of S3 keys in a busy account).
    return any(matches(pattern, action, ignore_case=True) for pattern in patterns)


def _all_stars(pattern: str) -> bool:
    return bool(pattern) and pattern.strip("*") == ""


def _resource_applies(
    stmt: Statement, resource: str, context: Context, complete: bool
) -> tuple[Tri, tuple[str, ...]]:
    if stmt.resources is None and stmt.not_resources is None:
        return True, ()
    if resource == "*":
        if stmt.resources is not None:
            return any(_all_stars(p) for p in stmt.resources), ()
        assert stmt.not_resources is not None
        if any(_all_stars(p) for p in stmt.not_resources):
            return False, ()
        return None, (UNKNOWN_RESOURCE_KEY,)
    if stmt.resources is not None:
        return _any_resource(stmt.resources, resource, context, complete)
    assert stmt.not_resources is not None
    hit, keys = _any_resource(stmt.not_resources, resource, context, complete)
    return (None if hit is None else not hit), keys


def _any_resource(
    patterns: tuple[str, ...], resource: str, context: Context, complete: bool
) -> tuple[Tri, tuple[str, ...]]:
    result: Tri = False
    keys: list[str] = []
    for pattern in patterns:
        if "${" not in pattern:
            if matches(pattern, resource, ignore_case=False):
                return True, ()
            continue
        resolution = resolve_variables(pattern, context, complete)
        if resolution == "unknown":
            result = None
            keys.extend(k for k in variable_keys(pattern) if k.lower() not in context)
        elif resolution != "absent" and segments_regex(
            resolution, arn=False, ignore_case=False
        ).fullmatch(resource):
            return True, ()
    return result, (tuple(keys) if result is None else ())
