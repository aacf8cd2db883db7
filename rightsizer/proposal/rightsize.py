"""One role, start to end: grants x usage -> verdicts -> proposal -> proof -> findings. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from rightsizer import aws_names
from rightsizer.analysis.evidence import Sufficiency
from rightsizer.analysis.findings import Finding
from rightsizer.analysis.grants import Grants, role_grants
from rightsizer.analysis.inventory import InventoryRole
from rightsizer.analysis.last_accessed import witness
from rightsizer.analysis.verdicts import (
    Evidence,
    Exclusion,
    Verdict,
    decide,
    gather_evidence,
    needs_by_action,
)
from rightsizer.iam.ecs import Need
from rightsizer.iam.observability import Observability, TrailSettings
from rightsizer.proposal.build import Replay, propose, prove
from rightsizer.proposal.model import RoleProposal
from rightsizer.sources.last_accessed import RoleAccess
from rightsizer.store.records import UsageRow
from rightsizer.text import plural

__all__ = ["RESOURCES_LISTED", "RoleResult", "Window", "rightsize"]

# How many resources a result keeps per action once its proposal is built and proven: the most
# called, the others counted (``ActionEvidence.trim``). The report shows 5; ``summary.json``
# lists these. On 10M simulated events the roles named 1.45M distinct resources (mostly S3
# objects), which made a 285 MB summary and half the run's peak memory.
RESOURCES_LISTED = 100


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day the window holds: ``end`` is exclusive (``--until`` day + 1 at
        midnight), or the last event's time, so the day of the moment just before it."""
        return (self.end - timedelta(microseconds=1)).date()


@dataclass(frozen=True, slots=True)
class RoleResult:
    role: InventoryRole
    grants: Grants
    evidence: Evidence
    verdicts: tuple[Verdict, ...]
    proposal: RoleProposal | None  # None when it failed its proof or could not be built
    replay: Replay | None
    findings: tuple[Finding, ...]  # the inventory's and the analysis's, worst first
    notes: tuple[str, ...]
    sufficiency: Sufficiency

    def actions(self, *verdicts: str) -> tuple[str, ...]:
        return tuple(sorted({v.action for v in self.verdicts if v.verdict in verdicts}))

    @property
    def granted_actions(self) -> tuple[str, ...]:
        return tuple(sorted(self.grants.actions))

    @property
    def proposed_actions(self) -> tuple[str, ...]:
        if self.proposal is None:
            return ()
        return tuple(
            sorted({a for s in self.proposal.statements if s.effect == "Allow" for a in s.actions})
        )


def _unused_since(role: InventoryRole, window: Window,
                  active_days: int) -> tuple[str | None, str | None]:
    """What IAM's own record (RoleLastUsed) says when it has the role unused since before the
    window: the ``ROLE_UNUSED`` message when CloudTrail did not see the role at work either
    (``active_days`` 0), else a note that the two disagree. A role the logs show working is
    never called one to delete, whatever an IAM snapshot older than the logs says."""
    if role.last_used is not None and role.last_used < window.start:
        unused = (f"IAM last saw the role used on {role.last_used:%Y-%m-%d}, before the window "
                  f"({window.start:%Y-%m-%d})")
        last = f"last used on {role.last_used:%Y-%m-%d}"
    elif (role.last_used is None and role.last_used_known and role.created is not None
            and role.created < window.start):
        unused = (f"IAM records no use of the role since it was created on "
                  f"{role.created:%Y-%m-%d} (it tracks the last 400 days)")
        last = "never used since it was created"
    else:
        return None, None
    if not active_days:
        return f"{unused}: an unused ECS role; delete it rather than rightsize it", None
    return None, (f"IAM's RoleLastUsed says the role was {last}, yet CloudTrail saw it at work "
                  f"on {active_days} days of the window (the IAM data may be older than the "
                  "logs)")


def rightsize(
    role: InventoryRole,
    usage: Sequence[UsageRow],
    *,
    sessions: Mapping[tuple[str, str], int],
    trails: Sequence[TrailSettings],
    exclusions: Sequence[Exclusion],
    window: Window,
    min_window_days: float,
    today: date,
    sufficiency: Sufficiency,
    observability_cache: dict[str, Observability] | None = None,
    last_accessed: RoleAccess | None = None,
) -> RoleResult:
    """Verdicts, proposal, proof and findings for one role. Where ``sufficiency`` says the logs
    cannot prove anything unused, nothing is: the grants that would have been ``unused`` are
    ``insufficient_evidence`` (kept), and there is no proposal."""
    grants = role_grants(role.policies, role.boundary)
    evidence = gather_evidence(usage, sessions)
    needs = needs_by_action((need.actions, need.reason)
                            for need in (*role.needs, *exec_needs(evidence)))
    verdicts = decide(
        grants,
        evidence,
        needs=needs,
        trails=trails,
        exclusions=exclusions,
        role_name=role.name,
        role_arn=role.arn,
        today=today,
        observability_cache=observability_cache,
    )
    disagreements: tuple[str, ...] = ()
    if last_accessed is not None:
        # The second witness: what IAM saw used, CloudTrail's window did not, is kept.
        verdicts, disagreements = witness(verdicts, last_accessed, window.start)
    findings = list(role.findings)
    if not sufficiency.sufficient:
        verdicts = _withhold(verdicts, sufficiency)
        code = ("ROLE_NOT_SEEN" if sufficiency.not_seen else "LOG_INTEGRITY_FAILED"
                if sufficiency.integrity_failed else "INSUFFICIENT_EVIDENCE")
        findings.append(Finding.of(code, "no proposal: " + "; ".join(sufficiency.missing)))
    else:
        for place, gap in sufficiency.gaps:
            findings.append(Finding.of(
                "DELIVERY_GAP",
                f"no logs of {place.region} (account {place.account}) from {gap.describe()}: "
                "calls made then are not in the evidence"))
        if sufficiency.confidence == "low":
            findings.append(Finding.of(
                "FEW_OBSERVATIONS",
                f"the role was {sufficiency.describe_confidence()}: what it does rarely may "
                "not have happened yet"))
    unused, disagreement = _unused_since(role, window, sufficiency.active_days)
    if unused:
        findings.append(Finding.of("ROLE_UNUSED", unused))
    if disagreement:
        disagreements = (*disagreements, disagreement)
    if window.days < min_window_days:
        findings.append(
            Finding.of(
                "WINDOW_TOO_SHORT",
                f"the observation window is {window.days:.1f} days, less than the "
                f"{min_window_days:g} days asked for: rarely used permissions may look unused",
            )
        )
    account = aws_names.arn_account(role.arn)
    proposal: RoleProposal | None = None
    replay: Replay | None = None
    notes: tuple[str, ...] = ()
    if not sufficiency.sufficient:
        notes = ("the evidence cannot prove any grant unused: no proposal",)
    elif any(f.code in ("POLICY_UNREADABLE", "POLICY_INVALID", "POLICY_MISSING")
             for f in role.findings):
        notes = ("the role's grants are not fully known: no proposal",)
    elif not role.in_iam_data:
        notes = ("the role is not in the IAM data: no proposal",)
    else:
        try:
            proposal, notes = propose(
                role_name=role.name,
                role_arn=role.arn,
                account=account,
                grants=grants,
                verdicts=verdicts,
                needs=role.needs,
                current_inline=[p.name for p in role.policies if p.kind == "inline"],
                current_managed=list(role.attached_policy_arns),
            )
        except ValueError as exc:  # more documents than a role may have attached
            findings.append(Finding.of("PROPOSAL_TOO_LARGE", str(exc)))
        if proposal is not None:
            replay = prove(
                proposal, verdicts, grants, original=role.policies, boundary=role.boundary
            )
            if not replay.passed:
                findings.append(Finding.of("PROPOSAL_FAILED_PROOF", _failure(replay)))
                proposal = None
    denied = [v for v in verdicts if v.verdict == "denied_attempt"]
    if denied:
        findings.append(
            Finding.of(
                "DENIED_ATTEMPTS",
                f"{plural(len(denied), 'action')} {_were(len(denied))} refused: "
                + ", ".join(v.action for v in denied[:10])
                + (" ..." if len(denied) > 10 else ""),
            )
        )
    elsewhere = [v for v in verdicts if v.verdict == "used_not_granted"]
    if elsewhere:
        findings.append(
            Finding.of(
                "USED_NOT_GRANTED",
                f"{plural(len(elsewhere), 'action')} succeeded without the role's own "
                "policies granting them (resource policies?): "
                + ", ".join(v.action for v in elsewhere[:10]),
            )
        )
    unmapped = [v for v in verdicts if v.verdict == "unmapped_event"]
    if unmapped:
        findings.append(
            Finding.of(
                "UNMAPPED_EVENTS",
                f"{plural(len(unmapped), 'kind')} of events "
                f"map{'s' if len(unmapped) == 1 else ''} to no IAM action: "
                + ", ".join(v.action for v in unmapped[:10]),
            )
        )
    if proposal is not None:
        for change in proposal.added:
            verdict = next(v for v in verdicts if v.action == change.action)
            calls = verdict.evidence.calls if verdict.evidence else 0
            findings.append(Finding.of(
                "DECLARED_NEED_GRANTED_ELSEWHERE",
                f"{change.action}: {verdict.reason}; {plural(calls, 'call')} succeeded "
                "although the role's own policies do not grant it: the proposal adds it, "
                "scoped to what the task definition names, so that applying it cannot take it "
                "away"))
    findings += _needs_not_granted(role, grants, verdicts)
    if proposal is not None:
        wide = _account_wide(proposal, verdicts)
        if wide:
            findings.append(Finding.of(
                "KEPT_GRANT_ACCOUNT_WIDE",
                f"{plural(len(wide), 'action')} kept without being seen still appl"
                f"{'ies' if len(wide) == 1 else 'y'} to every resource of "
                f"their type: {', '.join(wide[:10])}" + (" ..." if len(wide) > 10 else "")
                + "; scope them by hand if the application's resources are known"))
    protected = [v for v in verdicts if v.verdict == "kept_unmapped"]
    if protected:
        events = sorted({e.event for e in evidence.unmapped})
        services = ", ".join(sorted({v.action.split(":")[0] for v in protected}))
        findings.append(
            Finding.of(
                "UNMAPPED_EVENTS_KEPT_GRANTS",
                f"{plural(len(protected), 'grant')} of {services} kept because events map to "
                f"no IAM action: {', '.join(events[:10])}",
            )
        )
    unique = {(f.code, f.message): f for f in findings}
    for action_evidence in evidence.actions.values():
        action_evidence.trim(RESOURCES_LISTED)
    return RoleResult(
        role=role,
        grants=grants,
        evidence=evidence,
        verdicts=verdicts,
        proposal=proposal,
        replay=replay,
        findings=tuple(sorted(unique.values(), key=lambda f: (f.severity.rank, f.code, f.message))),
        notes=(*notes, *(f"IAM and CloudTrail disagree: {d}" for d in disagreements)),
        sufficiency=sufficiency,
    )


def _were(count: int) -> str:
    return "was" if count == 1 else "were"


def _account_wide(proposal: RoleProposal, verdicts: Sequence[Verdict]) -> list[str]:
    """Kept, unseen actions whose proposed resources are ``*`` or a whole resource type as the
    catalog spells it (what ``*`` is narrowed to) for an action that takes resources."""
    from rightsizer.iam.catalog import catalog, fill_arn

    parts = proposal.role_arn.split(":")
    partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
    unseen = {v.action for v in verdicts if v.kept and v.verdict != "used" and v.granted}
    wide = set()
    for statement in proposal.statements:
        if statement.effect != "Allow":
            continue
        for action in statement.actions:
            info = catalog().action(action)
            if action not in unseen or info is None or info.takes_no_resource:
                continue
            types = [fill_arn(t.arn_template, {}, partition=partition)
                     for t in catalog().resource_types_of(action)]
            if any(r == "*" or r in types for r in statement.resources):
                wide.add(action)
    return sorted(wide)


def _needs_not_granted(role: InventoryRole, grants: Grants,
                       verdicts: Sequence[Verdict]) -> list[Finding]:
    """Declared needs the role's policies do not grant and the logs do not show it using."""
    seen = {v.action.lower() for v in verdicts if v.evidence is not None and v.evidence.calls}
    granted = {a.lower() for a in grants.actions}
    missing: dict[str, set[str]] = {}
    for need in role.needs:
        if not need.resource_known or need.optional:
            continue  # a KMS key the task definition does not name; root access on EFS
        for action in need.actions:
            if action.lower() not in granted and action.lower() not in seen:
                missing.setdefault(action, set()).add(f"{need.resource} ({need.field})")
    return [Finding.of(
        "DECLARED_NEED_NOT_GRANTED",
        f"{action}: the task definition needs it on {'; '.join(sorted(where))}, but the role's "
        "policies do not grant it and the logs show no call: a resource policy may grant it, "
        "or the task fails when it needs it")
        for action, where in sorted(missing.items())]


# ECS Exec: the SSM agent in the task opens a control channel and data channels with the task
# role, and needs all four actions (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
# ecs-exec.html, "IAM permissions required for ECS Exec"). It is switched on per service or
# RunTask, not in the task definition: a role seen opening any channel uses ECS Exec, and the
# data channels are never logged, so all four are needed.
ECS_EXEC_ACTIONS = ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")


def exec_needs(evidence: Evidence) -> list[Need]:
    """ECS Exec's four actions, when the role was seen using any of them."""
    seen = [a for a in evidence.actions if a.lower().startswith("ssmmessages:")
            and evidence.actions[a].calls]
    if not seen:
        return []
    calls = sum(evidence.actions[a].calls for a in seen)
    return [Need("task", ECS_EXEC_ACTIONS, "*",
                 f"ECS Exec: the role opened SSM Messages channels ({calls} calls of "
                 f"{', '.join(sorted(seen))})", "CloudTrail ssmmessages.amazonaws.com")]


def _withhold(verdicts: Sequence[Verdict], sufficiency: Sufficiency) -> tuple[Verdict, ...]:
    """Every ``unused`` verdict becomes ``insufficient_evidence``: kept, with what is missing."""
    reason = "; ".join(sufficiency.missing)
    return tuple(
        replace(v, verdict="insufficient_evidence",
                rule="not seen, but the logs read cannot prove it unused", reason=reason)
        if v.verdict == "unused" else v
        for v in verdicts)


def _failure(replay: Replay) -> str:
    parts = []
    if replay.failed:
        parts.append(
            f"{replay.failed} replayed calls would be denied ({'; '.join(replay.failures[:5])})"
        )
    if replay.unused_allowed:
        parts.append(f"unused actions still allowed: {', '.join(replay.unused_allowed[:5])}")
    if replay.broader:
        parts.append(f"broader than the grant: {', '.join(replay.broader[:5])}")
    return "the proposal failed its proof: " + "; ".join(parts)
