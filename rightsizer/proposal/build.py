"""From verdicts to a minimized policy, and the proof that it still allows what the role did.

Only what is used or kept goes in. Resources come from the evidence: the ARNs the role touched,
generalized where they change per task or request (``generalize.py``) and clamped to what the
role's own statements allowed, so the proposal is never broader than the grant; ``*`` only
where the action takes no resource. Where the events do not say which resource, or the action
is kept without being seen (not observable, required by a task definition that cannot name the
resource, excluded by configuration), the original statements' Resource patterns are kept as
they were. Conditions of the original statements stay with the (action, resource) they guarded.
The original Deny statements that bear on a kept action are carried over unchanged.

The proof replays every call of the window that the role's policies allowed (action, resource,
region) against the proposal with the project's evaluator, and the calls of declared needs the
proposal added (used, though granted by something else); it checks that no ``unused`` action is
allowed and that no proposed (action, resource) is broader than a granting statement.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rightsizer.analysis.grants import Grant, Grants, expand_statement
from rightsizer.analysis.verdicts import Verdict
from rightsizer.iam.catalog import catalog, fill_arn
from rightsizer.iam.ecs import Need
from rightsizer.iam.evaluate import Evaluator, Request
from rightsizer.iam.patterns import matches, pattern_within, patterns_intersect
from rightsizer.iam.policy import Condition, Policy, Statement, parse_policy
from rightsizer.proposal.generalize import (
    Generalization,
    clamp_to_grant,
    explain_generalization,
    generalize_resources,
)
from rightsizer.proposal.model import ActionChange, Generalized, ProposedStatement, RoleProposal
from rightsizer.proposal.split import split_statements

__all__ = ["Replay", "group_statements", "propose", "prove"]

_SID_CHARS = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class _Scoped:
    action: str
    resource: str
    conditions: tuple[Condition, ...]


def _covering(grant: Grant, pattern: str) -> list[Statement]:
    """The granting statements whose Resource covers ``pattern``."""
    return [
        s
        for s in grant.statements
        if s.resources is not None and any(pattern_within(pattern, r) for r in s.resources)
    ]


def _conditions_for(grant: Grant, pattern: str) -> tuple[Condition, ...] | None:
    """The conditions a proposed (action, pattern) must carry: none when an unconditioned
    statement covers it, else the first covering statement's; None when nothing covers it."""
    covering = _covering(grant, pattern)
    if not covering:
        return None
    if any(not s.conditions for s in covering):
        return ()
    return tuple(sorted(covering[0].conditions, key=lambda c: (c.operator, c.key, c.values)))


def _scope(action: str, grant: Grant, arns: Sequence[str], *, from_evidence: bool,
           explained: Sequence[Generalization] = ()) -> list[str]:
    """The resource patterns to propose for one kept action (``explained``: the generalization
    of ``arns`` when the caller already has it)."""
    info = catalog().action(action)
    if info is not None and info.takes_no_resource:
        # IAM grants such an action only through Resource "*"; mirror the grant otherwise.
        return ["*"] if "*" in grant.resources else list(grant.resources)
    if not arns:
        return [] if grant.only_not_resource else list(grant.resources)
    if from_evidence:
        patterns = tuple(g.pattern for g in explained) or generalize_resources(arns)
    else:
        patterns = tuple(sorted(set(arns)))
    if grant.only_not_resource:
        # A NotResource grant cannot bound a pattern: propose only what was touched, concretely.
        return sorted({a for a in arns if "*" not in a and "?" not in a})
    return list(clamp_to_grant(patterns, arns, grant.resources))


def _types_of(action: str) -> str:
    patterns = [t.arn_pattern for t in catalog().resource_types_of(action)]
    return ", ".join(patterns) if patterns else '"*" (it takes no resource)'


def _authorizable(action: str, patterns: set[str], *, partition: str, narrow_star: bool
                  ) -> tuple[set[str], list[str]]:
    """The patterns that grant something IAM can authorize ``action`` against, and the ones that
    grant nothing (a table ARN for a stream action, any ARN for an action that takes none).
    With ``narrow_star``, ``*`` becomes the action's resource types (``GetRecords`` on ``*``
    can only ever be authorized on a stream): the same grant, said exactly."""
    info = catalog().action(action)
    if info is None:
        return patterns, []
    if info.takes_no_resource:
        return ({"*"} if "*" in patterns else set()), sorted(p for p in patterns if p != "*")
    types = sorted({fill_arn(t.arn_template, {}, partition=partition)
                    for t in catalog().resource_types_of(action)})
    if not types:
        return patterns, []
    kept, nothing = set(), []
    for pattern in patterns:
        if pattern == "*":
            kept |= set(types) if narrow_star else {"*"}
        elif any(patterns_intersect(pattern, t) for t in types):
            kept.add(pattern)
        else:
            nothing.append(pattern)
    return kept, sorted(nothing)


def _kept_arns(verdict: Verdict, needs: Sequence[Need]) -> tuple[list[str], bool, bool]:
    """(arns, from_evidence, fall back to the grant as well)."""
    if verdict.verdict == "used" and verdict.evidence is not None:
        arns = sorted({arn for arn, _region in verdict.evidence.resources})
        return arns, True, verdict.evidence.unknown_resource_calls > 0
    if verdict.verdict == "required_by_task_definition":
        wanted = [n for n in needs if verdict.action.lower() in {a.lower() for a in n.actions}]
        known = sorted({n.resource for n in wanted if n.resource_known})
        return known, False, any(not n.resource_known for n in wanted) or not known
    return [], False, True


def propose(
    *,
    role_name: str,
    role_arn: str,
    account: str,
    grants: Grants,
    verdicts: Sequence[Verdict],
    needs: Sequence[Need],
    current_inline: Sequence[str],
    current_managed: Sequence[str],
) -> tuple[RoleProposal, tuple[str, ...]]:
    """The proposal for one role, and notes on kept actions it could not express."""
    scoped: list[_Scoped] = []
    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    generalized: list[Generalized] = []
    notes: list[str] = []
    kept: list[ActionChange] = []
    removed: list[ActionChange] = []
    added: list[ActionChange] = []
    for verdict in verdicts:
        if not verdict.granted:
            if verdict.verdict == "required_by_task_definition":
                resources = _declared_resources(verdict.action, needs)
                if resources:
                    added.append(ActionChange(verdict.action, verdict.verdict, verdict.rule))
                    scoped.extend(_Scoped(verdict.action, r, ()) for r in resources)
                else:
                    notes.append(f"{verdict.action}: declared and used, but the task "
                                 "definition does not name its resource: not added")
            continue
        if not verdict.kept:
            removed.append(ActionChange(verdict.action, verdict.verdict, verdict.rule))
            continue
        kept.append(ActionChange(verdict.action, verdict.verdict, verdict.reason or verdict.rule))
        grant = grants.actions[verdict.action]
        arns, from_evidence, with_grant = _kept_arns(verdict, needs)
        explained = explain_generalization(arns) if from_evidence and arns else ()
        patterns = set(_scope(verdict.action, grant, arns, from_evidence=from_evidence,
                              explained=explained))
        generalized += _generalized(verdict.action, explained, patterns)
        if with_grant and not grant.only_not_resource:
            patterns |= set(grant.resources)
        if not patterns:
            notes.append(
                f"{verdict.action}: granted only through NotResource and never seen on "
                "a resource: not in the proposal"
            )
            continue
        if "*" in patterns:
            patterns = {"*"}
        patterns, nothing = _authorizable(verdict.action, patterns, partition=partition,
                                          narrow_star=verdict.verdict != "used")
        for pattern in nothing:
            notes.append(f"{verdict.action} on {pattern} grants nothing: IAM authorizes "
                         f"{verdict.action} only on {_types_of(verdict.action)}; not proposed")
        for pattern in sorted(patterns):
            conditions = _conditions_for(grant, pattern)
            if conditions is None and not grant.only_not_resource:
                notes.append(f"{verdict.action} on {pattern}: no granting statement covers it")
                continue
            scoped.append(_Scoped(verdict.action, pattern, conditions or ()))
    statements = _group(scoped) + _carried_denies(grants, {s.action for s in scoped})
    base = f"rightsizer-{role_name}"[:128]
    documents = split_statements(statements, base_name=base)
    proposal = RoleProposal(
        role_name=role_name,
        role_arn=role_arn,
        documents=documents,
        kept=tuple(sorted(kept, key=lambda c: c.action)),
        removed=tuple(sorted(removed, key=lambda c: c.action)),
        current_inline=tuple(sorted(current_inline)),
        current_managed=tuple(sorted(current_managed)),
        account=account,
        generalized=tuple(sorted(generalized, key=lambda g: (g.action, g.pattern))),
        added=tuple(sorted(added, key=lambda c: c.action)),
    )
    return proposal, tuple(notes)


def _declared_resources(action: str, needs: Sequence[Need]) -> list[str]:
    """The resources the task definitions name for a declared action ("*" where it takes none);
    empty when one of them names none (nothing to scope an addition to)."""
    wanted = [n for n in needs if action.lower() in {a.lower() for a in n.actions}]
    if not wanted or any(not n.resource_known for n in wanted):
        return []
    return sorted({n.resource for n in wanted})


def _generalized(action: str, explained: Sequence[Generalization],
                 proposed: set[str]) -> list[Generalized]:
    """What the proposal generalized for one action: its patterns that hold a wildcard the
    observed resources did not, with the rule and how many resources they came from."""
    found = []
    for g in explained:
        if g.pattern in proposed and g.rule not in ("exact", "given pattern"):
            found.append(Generalized(action, g.pattern, g.rule, len(g.covers), g.covers[:3]))
    return found


def _group(scoped: Sequence[_Scoped]) -> list[ProposedStatement]:
    """Statements grouped by service, resources and conditions, sorted, with stable Sids."""
    by_action: dict[tuple[str, tuple[Condition, ...]], set[str]] = defaultdict(set)
    for item in scoped:
        by_action[(item.action, item.conditions)].add(item.resource)
    by_shape: dict[tuple[str, tuple[str, ...], tuple[Condition, ...]], set[str]] = defaultdict(set)
    for (action, conditions), resources in by_action.items():
        service = action.split(":", 1)[0]
        by_shape[(service, tuple(sorted(resources)), conditions)].add(action)
    statements: list[ProposedStatement] = []
    counts: dict[str, int] = defaultdict(int)
    for (service, resources, conditions), actions in sorted(
        by_shape.items(), key=lambda kv: (kv[0][0], sorted(kv[1]), kv[0][1], kv[0][2])
    ):
        counts[service] += 1
        stem = _SID_CHARS.sub("", service.title())
        sid = stem if counts[service] == 1 else f"{stem}{counts[service]}"
        statements.append(
            ProposedStatement(
                sid=sid, actions=tuple(sorted(actions)), resources=resources, conditions=conditions
            )
        )
    return statements


def group_statements(scoped: Iterable[tuple[str, str, tuple[Condition, ...]]]
                     ) -> list[ProposedStatement]:
    """(action, resource, conditions) triples as statements grouped the way ``propose`` groups
    them (by service, resources and conditions; sorted; stable Sids)."""
    return _group([_Scoped(action, resource, conditions)
                   for action, resource, conditions in scoped])


def _carried_denies(grants: Grants, kept_actions: set[str]) -> list[ProposedStatement]:
    carried = []
    for number, statement in enumerate(grants.denies, start=1):
        if not (expand_statement(statement) & kept_actions):
            continue
        sid = _SID_CHARS.sub("", statement.sid or "") or f"KeepDeny{number}"
        carried.append(
            ProposedStatement(
                sid=sid,
                effect="Deny",
                actions=statement.actions or (),
                not_actions=statement.not_actions or (),
                resources=statement.resources or (),
                not_resources=statement.not_resources or (),
                conditions=statement.conditions,
            )
        )
    return carried


@dataclass(frozen=True, slots=True)
class Replay:
    """The proof: every call the role's policies allowed, replayed against the proposal."""

    calls: int  # calls replayed (each distinct action x resource x region weighs its calls)
    allowed: int
    conditional: int  # allowed if the kept conditions hold (keys CloudTrail does not record)
    failed: int
    granted_elsewhere: int  # succeeded, but not through the role's own policies: not replayed
    unknown_resource: int  # the record does not name the resource: covered by the kept scope
    failures: tuple[str, ...]  # "action on resource (region)" of the first failures
    unused_allowed: tuple[str, ...]  # unused actions the proposal would still allow
    broader: tuple[str, ...]  # proposed (action, resource) pairs no granting statement covers

    @property
    def passed(self) -> bool:
        return not (self.failed or self.unused_allowed or self.broader)

    def as_json(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "allowed": self.allowed,
            "conditional": self.conditional,
            "failed": self.failed,
            "granted_elsewhere": self.granted_elsewhere,
            "unknown_resource": self.unknown_resource,
            "failures": list(self.failures),
            "unused_allowed": list(self.unused_allowed),
            "broader": list(self.broader),
            "passed": self.passed,
        }


def proposal_policies(proposal: RoleProposal) -> list[Policy]:
    """The proposal's documents as parsed policies, exactly as they will be written."""
    return [
        parse_policy(document.as_json(), name=document.name, kind="managed")
        for document in proposal.documents
    ]


def _allows_only(policies: Sequence[Policy]) -> list[Policy]:
    return [replace(p, statements=tuple(s for s in p.statements if s.effect == "Allow"))
            for p in policies]


def prove(
    proposal: RoleProposal,
    verdicts: Sequence[Verdict],
    grants: Grants,
    *,
    original: Sequence[Policy],
    boundary: Policy | None,
) -> Replay:
    # A call that succeeded was served by an Allow: a Deny that the replay's context seems to
    # settle against it (a condition on a key the record cannot carry exactly) evidently did not
    # apply. So both sides are replayed by their Allows only; the proposal carries the original
    # Deny statements unchanged, so in AWS they act on it as they acted on the original.
    proposed = Evaluator(_allows_only(proposal_policies(proposal)), boundary=boundary)
    # Only for actions the grants hold: a Deny the grant analysis found unconditional took the
    # action out of the grants, and a call of it that succeeded was served by something else.
    allows = Evaluator(_allows_only(original), boundary=boundary)
    originals = Evaluator(original, boundary=boundary)
    calls = allowed = conditional = failed = elsewhere = unknown = 0
    failures: list[str] = []
    for verdict in verdicts:
        evidence = verdict.evidence
        if evidence is None or not evidence.calls or verdict.verdict not in (
            "used", "used_not_granted", "required_by_task_definition"):
            continue
        # A declared need the role used without its own policies granting it was added to the
        # proposal: its calls must be allowed by the proposal, whatever the original allowed.
        added = not verdict.granted and verdict.verdict == "required_by_task_definition"
        # Replayed in any order: a decision does not depend on the ones asked before it (the
        # evaluator's property test). Only the first refused calls are named, below, by rank
        # (the calls whose resource is not known, rank 1, last), resource and region: sorting
        # every resource took seconds for a role that writes an S3 object per request.
        replays = [(0, arn, region, n) for (arn, region), n in evidence.resources.items()]
        if evidence.unknown_resource_calls:
            replays.append((1, "*", "", evidence.unknown_resource_calls))
        against = allows if verdict.granted else originals
        requests: dict[str, Request] = {}  # by region: the resource is given to evaluate_on
        refused: list[tuple[int, str, str]] = []
        for rank, arn, region, n in replays:
            request = requests.get(region)
            if request is None:
                context = {"aws:PrincipalArn": (proposal.role_arn,)}
                if region:
                    context["aws:RequestedRegion"] = (region,)
                request = requests[region] = Request(verdict.action, "*", context)
            if not added and not against.evaluate_on(request, arn).allowed:
                if arn == "*":
                    unknown += n
                else:
                    elsewhere += n
                continue
            calls += n
            decision = proposed.evaluate_on(request, arn)
            if decision.allowed:
                allowed += n
                conditional += n if decision.conditional else 0
            else:
                failed += n
                refused.append((rank, arn, region))
        failures += [f"{verdict.action} on {arn} ({region or 'any region'})"
                     for _rank, arn, region in heapq.nsmallest(20 - len(failures), refused)]
    allow_patterns = [(s.actions, s.resources) for s in proposal.statements if s.effect == "Allow"]
    unused_allowed = sorted(
        v.action
        for v in verdicts
        if v.verdict == "unused"
        and any(
            matches(p, v.action, ignore_case=True) for actions, _ in allow_patterns for p in actions
        )
    )
    broader = sorted(
        f"{action} on {resource}"
        for actions, resources in allow_patterns
        for action in actions
        for resource in resources
        if action in grants.actions
        and not grants.actions[action].only_not_resource
        and _conditions_for(grants.actions[action], resource) is None
    )
    return Replay(
        calls=calls,
        allowed=allowed,
        conditional=conditional,
        failed=failed,
        granted_elsewhere=elsewhere,
        unknown_resource=unknown,
        failures=tuple(failures),
        unused_allowed=tuple(unused_allowed),
        broader=tuple(broader),
    )
