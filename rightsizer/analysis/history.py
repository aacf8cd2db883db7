"""Runs compared over time, and proposals watched once applied. Pure.

Each run leaves a record per role in the store (grants, use, proposal, refusals, findings, the
policies in force). The next run says what changed since (``since_last_run``); and a role whose
grants now lie within an earlier run's proposal is *rightsized since* that run. A call such a
role was refused after that run, for an action that run still saw granted, is the risk every
team fears in applying a proposal: ``REGRESSION_AFTER_RIGHTSIZING``, with the statement that
would restore the permission, checked with rightsizer's evaluator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rightsizer import aws_names
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import Policy, parse_policy

__all__ = ["Regression", "RoleRecord", "RunRecord", "find_regressions", "policy_json",
           "rightsized_since", "since_last_run"]


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """One role as a run saw it."""

    arn: str
    name: str
    granted: frozenset[str]
    used: frozenset[str]
    proposed: frozenset[str] | None  # None: no proposal
    denied: frozenset[str]
    findings: tuple[tuple[str, str, str], ...]  # (code, severity, message)
    policies: tuple[dict[str, Any], ...] = ()  # the identity policies in force, as documents
    proposal: tuple[dict[str, Any], ...] | None = None  # the proposed documents

    def as_json(self) -> dict[str, Any]:
        return {"arn": self.arn, "name": self.name, "granted": sorted(self.granted),
                "used": sorted(self.used),
                "proposed": sorted(self.proposed) if self.proposed is not None else None,
                "denied": sorted(self.denied),
                "findings": [list(f) for f in self.findings], "policies": list(self.policies),
                "proposal": list(self.proposal) if self.proposal is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoleRecord:
        proposed = data.get("proposed")
        proposal = data.get("proposal")
        return cls(str(data["arn"]), str(data["name"]), frozenset(data.get("granted") or ()),
                   frozenset(data.get("used") or ()),
                   frozenset(proposed) if proposed is not None else None,
                   frozenset(data.get("denied") or ()),
                   tuple(tuple(f) for f in data.get("findings") or ()),  # type: ignore[misc]
                   tuple(data.get("policies") or ()),
                   tuple(proposal) if proposal is not None else None)


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    as_of: date
    roles: Mapping[str, RoleRecord] = field(default_factory=dict)  # by role ARN

    @property
    def granted(self) -> int:
        return sum(len(r.granted) for r in self.roles.values())

    @property
    def proposed(self) -> int:
        """Permissions once every proposal is applied (a role without one keeps its grants)."""
        return sum(len(r.proposed if r.proposed is not None else r.granted)
                   for r in self.roles.values())


def policy_json(policy: Policy) -> dict[str, Any]:
    """A parsed identity policy as a document again (for the record of what was in force)."""
    statements = []
    for s in policy.statements:
        statement: dict[str, Any] = {"Effect": s.effect}
        if s.sid:
            statement["Sid"] = s.sid
        if s.actions is not None:
            statement["Action"] = list(s.actions)
        if s.not_actions is not None:
            statement["NotAction"] = list(s.not_actions)
        if s.resources is not None:
            statement["Resource"] = list(s.resources)
        if s.not_resources is not None:
            statement["NotResource"] = list(s.not_resources)
        if s.conditions:
            block: dict[str, dict[str, list[str]]] = {}
            for c in s.conditions:
                block.setdefault(c.operator, {})[c.key] = list(c.values)
            statement["Condition"] = block
        statements.append(statement)
    return {"name": policy.name, "kind": policy.kind, "arn": policy.arn,
            "document": {"Version": policy.version or "2012-10-17", "Statement": statements}}


def since_last_run(previous: RunRecord, current: RunRecord,
                   kept: Sequence[RunRecord] = ()) -> dict[str, Any]:
    """``summary.json``'s ``since_last_run``: per role what changed, roles added and gone, and
    the account's granted and proposed totals over the runs kept."""
    # Roles are named with their account when the runs hold several (two accounts may each
    # have a role of one name).
    every = {**previous.roles, **current.roles}
    several = len({aws_names.arn_account(arn) for arn in every}) > 1

    def label(arn: str) -> str:
        return f"{aws_names.arn_account(arn)}/{every[arn].name}" if several else every[arn].name

    roles = []
    for arn in sorted(set(previous.roles) & set(current.roles)):
        before, now = previous.roles[arn], current.roles[arn]
        # By code: a finding's message carries dates and counts that move from run to run.
        found_before = {c for c, _, _ in before.findings}
        found_now = {c for c, _, _ in now.findings}
        change = {
            "name": now.name,
            "arn": arn,
            "label": label(arn),
            "newly_used": sorted(now.used - before.used),
            "no_longer_used": sorted(before.used - now.used),
            "new_denied": sorted(now.denied - before.denied),
            "new_findings": sorted(found_now - found_before),
            "resolved_findings": sorted(found_before - found_now),
            "granted": [len(before.granted), len(now.granted)],
        }
        if any(change[k] for k in ("newly_used", "no_longer_used", "new_denied",
                                   "new_findings", "resolved_findings")) or (
                len(before.granted) != len(now.granted)):
            roles.append(change)
    history = [*kept, current]
    return {
        "previous_run": previous.run_id, "previous_as_of": previous.as_of.isoformat(),
        "roles_added": sorted(label(a) for a in set(current.roles) - set(previous.roles)),
        "roles_gone": sorted(label(a) for a in set(previous.roles) - set(current.roles)),
        "roles": roles,
        "totals": [{"run": r.run_id, "as_of": r.as_of.isoformat(), "granted": r.granted,
                    "proposed": r.proposed} for r in history],
    }


def rightsized_since(history: Sequence[RunRecord], now: RoleRecord) -> RunRecord | None:
    """The earliest run whose proposal for this role holds all it is granted now, where that run
    still saw it granted more: the proposal was applied (or the role cut at least as far)."""
    for run in history:
        then = run.roles.get(now.arn)
        if then is None or then.proposed is None:
            continue
        if now.granted <= then.proposed and now.granted < then.granted:
            return run
    return None


@dataclass(frozen=True, slots=True)
class Regression:
    action: str
    resources: tuple[str, ...]
    calls: int
    first_seen: str
    since_run: str
    statement: dict[str, Any]
    verified: bool  # with the statement, every refused call goes through

    def message(self) -> str:
        return (f"{self.action} was refused {self.calls} time{'s' if self.calls != 1 else ''} "
                f"from {self.first_seen}, after the proposal of run {self.since_run} removed it; "
                "the statement that restores it"
                + (" (checked)" if self.verified else " (not checked)") + ": "
                + _one_line(self.statement))


def find_regressions(since: RunRecord, now: RoleRecord,
                     refused: Sequence[tuple[str, str, date, int]], policies: Sequence[Policy],
                     boundary: Policy | None) -> tuple[Regression, ...]:
    """Calls refused after ``since`` (``(action, resource, day, calls)``) for actions that run
    saw granted and the role no longer has: each with the statement that restores it, scoped to
    the resources the refused calls named, checked with the evaluator over the role's policies."""
    then = since.roles.get(now.arn)
    if then is None:
        return ()
    found: dict[str, list[tuple[str, date, int]]] = {}
    for action, resource, day, calls in refused:
        if day > since.as_of and action in then.granted and action not in now.granted:
            found.setdefault(action, []).append((resource, day, calls))
    regressions = []
    for action, rows in sorted(found.items()):
        resources = tuple(sorted({r for r, _, _ in rows if r and r != "*"})) or ("*",)
        statement = {"Sid": "Restore" + "".join(ch for ch in action.title() if ch.isalnum()),
                     "Effect": "Allow", "Action": action,
                     "Resource": list(resources) if len(resources) > 1 else resources[0]}
        restore = parse_policy({"Version": "2012-10-17", "Statement": [statement]},
                               name="rightsizer-restore")
        verified = all(evaluate(Request(action, r), [*policies, restore], boundary=boundary)
                       .allowed for r in resources)
        regressions.append(Regression(action, resources, sum(n for _, _, n in rows),
                                      min(d for _, d, _ in rows).isoformat(), since.run_id,
                                      statement, verified))
    return tuple(regressions)


def _one_line(statement: Mapping[str, Any]) -> str:
    import json

    return json.dumps(statement, separators=(", ", ": "))
