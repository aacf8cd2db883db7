"""DataFrames for notebooks: the same answers as the CLI, as tables (pandas).

Each function takes what the library already returns (a store path, a ``RunResult``) and adds
nothing but the table shape: one row per usage aggregate, grant, verdict or proposed statement.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from rightsizer.store.database import Store

if TYPE_CHECKING:
    from rightsizer.analysis.inventory import Inventory
    from rightsizer.pipeline import ExplainResult, NewRoleResult, RunResult

__all__ = [
    "changes_frame",
    "failures_frame",
    "findings_frame",
    "grants_frame",
    "inventory_frame",
    "new_roles_frame",
    "proposals_frame",
    "replay_frame",
    "usage_frame",
    "verdicts_frame",
]


def usage_frame(db: str | Path, since: datetime | None = None,
                until: datetime | None = None) -> pd.DataFrame:
    """What every role did: principal x eventSource x eventName x region x resource x day x
    error class x invokedBy, with calls, first and last seen."""
    with Store(db, read_only=True) as store:
        rows = store.usage(since, until)
    columns = ["principal", "event_source", "event_name", "region", "account", "request_key",
               "resource_arns", "day", "error_class", "invoked_by", "calls", "first_seen",
               "last_seen", "error_code"]
    return pd.DataFrame([[getattr(r, c) for c in columns] for r in rows], columns=columns)


def grants_frame(result: RunResult) -> pd.DataFrame:
    """One row per (role, granted action, granting statement)."""
    records = [
        {"role": r.role.name, "action": grant.action, "statement": statement.ref,
         "resources": list(statement.resources or ()),
         "not_resources": list(statement.not_resources or ()),
         "conditional": bool(statement.conditions)}
        for r in result.roles for grant in r.grants.actions.values()
        for statement in grant.statements]
    return pd.DataFrame.from_records(
        records, columns=["role", "action", "statement", "resources", "not_resources",
                          "conditional"])


def verdicts_frame(result: RunResult) -> pd.DataFrame:
    """One row per (role, action) verdict with its evidence."""
    records = []
    for r in result.roles:
        for v in r.verdicts:
            e = v.evidence
            records.append({
                "role": r.role.name, "action": v.action, "verdict": v.verdict, "kept": v.kept,
                "granted": v.granted, "rule": v.rule, "reason": v.reason,
                "calls": e.calls if e else 0, "denied_calls": e.denied_calls if e else 0,
                "first_seen": e.first_seen if e else None,
                "last_seen": e.last_seen if e else None,
                "sessions": e.sessions if e else 0,
                # The most-called resources (RESOURCES_LISTED) of resource_count.
                "resources": sorted({a for a, _ in e.resources}) if e else [],
                "resource_count": e.resource_count if e else 0,
                "invoked_by": sorted(e.invoked_by) if e else [],
            })
    return pd.DataFrame.from_records(records, columns=[
        "role", "action", "verdict", "kept", "granted", "rule", "reason", "calls",
        "denied_calls", "first_seen", "last_seen", "sessions", "resources", "resource_count",
        "invoked_by"])


def proposals_frame(result: RunResult) -> pd.DataFrame:
    """One row per proposed statement, with the replay figures of its role."""
    records = []
    for r in result.roles:
        if r.proposal is None:
            continue
        for document in r.proposal.documents:
            for s in document.statements:
                records.append({
                    "role": r.role.name, "policy": document.name, "sid": s.sid,
                    "effect": s.effect, "actions": list(s.actions or s.not_actions),
                    "resources": list(s.resources or s.not_resources),
                    "conditional": bool(s.conditions),
                    "replayed_calls": r.replay.calls if r.replay else 0,
                    "proof_passed": r.replay.passed if r.replay else None,
                })
    return pd.DataFrame.from_records(records, columns=[
        "role", "policy", "sid", "effect", "actions", "resources", "conditional",
        "replayed_calls", "proof_passed"])


def findings_frame(result: RunResult) -> pd.DataFrame:
    """One row per finding, worst first: role, severity, code, message."""
    records = [{"role": r.role.name, "severity": f.severity.value, "rank": f.severity.rank,
                "code": f.code, "message": f.message}
               for r in result.roles for f in r.findings]
    frame = pd.DataFrame.from_records(
        records, columns=["role", "severity", "rank", "code", "message"])
    return frame.sort_values(["rank", "role", "code"], kind="stable").drop(
        columns="rank").reset_index(drop=True)


def replay_frame(result: RunResult) -> pd.DataFrame:
    """One row per role: the replay proof's figures (roles without a replay have NaN)."""
    columns = ["calls", "allowed", "conditional", "failed", "granted_elsewhere",
               "unknown_resource"]
    records = []
    for r in result.roles:
        row: dict[str, object] = {"role": r.role.name,
                                  "passed": r.replay.passed if r.replay else None}
        for column in columns:
            row[column] = getattr(r.replay, column) if r.replay else None
        records.append(row)
    return pd.DataFrame.from_records(records, columns=["role", "passed", *columns])


def inventory_frame(inventory: Inventory) -> pd.DataFrame:
    """One row per role of the IAM data: ECS or not, kinds, families, needs and findings."""
    records = [{"role": role.name, "arn": role.arn, "ecs": role.ecs,
                "kinds": list(role.kinds), "families": list(role.families),
                "task_definitions": len(role.task_definitions), "needs": len(role.needs),
                "findings": len(role.findings),
                "worst": role.findings[0].severity.value if role.findings else None}
               for role in inventory.roles]
    return pd.DataFrame.from_records(records, columns=[
        "role", "arn", "ecs", "kinds", "families", "task_definitions", "needs", "findings",
        "worst"])


_FAILURE_COLUMNS = ["role", "action", "resource", "region", "count", "stopped_tasks",
                    "first_seen", "last_seen", "cause", "sentence", "fix", "fix_checked",
                    "no_fix", "source"]


def failures_frame(result: ExplainResult | RunResult) -> pd.DataFrame:
    """One row per failure ``explain_failures`` (or ``run``) found: what failed, how often, the
    cause, and the fix (the statement as JSON text) or why there is none."""
    import json

    records = [{"role": f.role, "action": f.action, "resource": f.resource, "region": f.region,
                "count": f.count, "stopped_tasks": f.stopped_tasks, "first_seen": f.first_seen,
                "last_seen": f.last_seen, "cause": f.cause.code, "sentence": f.cause.sentence,
                "fix": (json.dumps(dict(f.fix.statement)) if f.fix and f.fix.statement
                        else f.fix.change if f.fix else None),
                "fix_checked": f.fix.verified if f.fix else False, "no_fix": f.no_fix,
                "source": f.source} for f in result.failures]
    return pd.DataFrame.from_records(records, columns=_FAILURE_COLUMNS)


def changes_frame(result: RunResult) -> pd.DataFrame:
    """One row per change to an ECS role in the window: when, who, what, widened or not."""
    records = [{"role": arn.rsplit("/", 1)[-1], "time": c.time, "actor": c.actor,
                "change": c.change, "what": c.what, "widened": c.widened, "why": c.why}
               for arn, found in result.changes.items() for c in found]
    frame = pd.DataFrame.from_records(records, columns=[
        "role", "time", "actor", "change", "what", "widened", "why"])
    return frame.sort_values(["time", "role"], kind="stable").reset_index(drop=True)


def new_roles_frame(result: NewRoleResult) -> pd.DataFrame:
    """One row per role ``new_roles`` made: its family, kind, name, actions and open items."""
    records = [{"family": r.family, "kind": r.kind, "role": r.role_name, "arn": r.arn,
                "actions": list(r.actions), "undecided": [u.what for u in r.undecided],
                "folder": str(folder)} for r, folder in zip(result.roles, result.folders,
                                                          strict=True)]
    return pd.DataFrame.from_records(records, columns=[
        "family", "kind", "role", "arn", "actions", "undecided", "folder"])
