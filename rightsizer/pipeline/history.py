"""The run's place in the history the store keeps: what changed since the last run, which roles
were rightsized by an earlier proposal, and the calls such roles were refused since
(analysis/history.py). The run's own record is added once its outputs are written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from rightsizer.analysis.findings import Finding
from rightsizer.analysis.history import (
    Regression,
    RoleRecord,
    RunRecord,
    find_regressions,
    policy_json,
    rightsized_since,
    since_last_run,
)
from rightsizer.analysis.inventory import role_key
from rightsizer.analysis.verdicts import usage_call
from rightsizer.iam.actions import event_actions
from rightsizer.iam.resources import derive_resources
from rightsizer.proposal.rightsize import RoleResult
from rightsizer.store.database import Store
from rightsizer.store.records import UsageRow

__all__ = ["RunHistory", "compare_runs", "record_run"]

KEPT_RUNS = 60  # runs compared and charted

# DuckDB's memory for writing the run's record at the end of a run. The first write after a
# bulk load makes DuckDB's checkpoint rewrite what the load left (measured on a fresh store of
# 10M simulated events: 16.7 s, +592 MiB at the store's 512 MB; 18.9 s, +177 MiB at 128 MB),
# and it comes when the run holds the most: a little more time for a bounded peak.
RECORD_RUN_MEMORY = "128MB"


@dataclass(frozen=True)
class RunHistory:
    current: RunRecord
    since_last_run: dict[str, Any] | None  # None on the first run
    rightsized: Mapping[str, RunRecord] = field(default_factory=dict)  # by role ARN
    regressions: Mapping[str, tuple[Regression, ...]] = field(default_factory=dict)

    def role_json(self, arn: str) -> dict[str, Any]:
        since = self.rightsized.get(arn)
        return {
            "rightsized_since": ({"run": since.run_id, "as_of": since.as_of.isoformat()}
                                 if since else None),
            "regressions": [{"action": r.action, "resources": list(r.resources),
                             "calls": r.calls, "first_seen": r.first_seen,
                             "statement": r.statement, "verified": r.verified}
                            for r in self.regressions.get(arn, ())],
        }


def compare_runs(db: str | Path, results: Sequence[RoleResult],
                 refused_by_role: Mapping[tuple[str, str], Sequence[UsageRow]],
                 today: date) -> tuple[RunHistory, list[RoleResult]]:
    """This run against the ones the store kept; the results with any regression finding.
    ``refused_by_role`` holds each role's refused calls by ``role_key`` (other rows may be
    there too; only the refused ones are read)."""
    with Store(db, read_only=True) as store:
        past = [RunRecord(run_id, as_of, {r["arn"]: RoleRecord.from_json(r) for r in roles})
                for run_id, as_of, roles in store.runs(KEPT_RUNS)]
    current = RunRecord(uuid.uuid4().hex, today, {r.role.arn: _record(r) for r in results})
    rightsized: dict[str, RunRecord] = {}
    regressions: dict[str, tuple[Regression, ...]] = {}
    updated = []
    for result in results:
        now = current.roles[result.role.arn]
        since = rightsized_since(past, now)
        if since is not None:
            rightsized[result.role.arn] = since
            found = find_regressions(since, now,
                                     list(_refused(refused_by_role.get(role_key(result.role.arn),
                                                                     ()))),
                                     result.role.policies, result.role.boundary)
            if found:
                regressions[result.role.arn] = found
                findings = [*(Finding.of("REGRESSION_AFTER_RIGHTSIZING", r.message())
                              for r in found), *result.findings]
                result = replace(result, findings=tuple(sorted(
                    findings, key=lambda f: (f.severity.rank, f.code))))
        updated.append(result)
    # The record holds the findings as reported, regressions included.
    current = replace(current, roles={r.role.arn: _record(r) for r in updated})
    history = RunHistory(current, since_last_run(past[-1], current, past) if past else None,
                         rightsized, regressions)
    return history, updated


def record_run(db: str | Path, history: RunHistory,
               integrity: dict[str, Any] | None = None) -> None:
    """The run's record in the store: per role, and the log integrity check's result."""
    with Store(db, memory_limit=RECORD_RUN_MEMORY) as store:
        store.record_run(history.current.run_id, history.current.as_of,
                         [r.as_json() for r in history.current.roles.values()], integrity)


def _record(result: RoleResult) -> RoleRecord:
    return RoleRecord(
        arn=result.role.arn, name=result.role.name,
        granted=frozenset(result.grants.actions), used=frozenset(result.actions("used")),
        proposed=frozenset(result.proposed_actions) if result.proposal else None,
        denied=frozenset(result.actions("denied_attempt")),
        findings=tuple((f.code, f.severity.value, f.message) for f in result.findings),
        policies=tuple(policy_json(p) for p in result.role.policies),
        proposal=(tuple({"name": d.name, "document": d.as_json()}
                        for d in result.proposal.documents) if result.proposal else None))


def _refused(rows: Sequence[UsageRow]) -> Iterator[tuple[str, str, date, int]]:
    """(action, resource, day, calls) of the refused calls among a role's usage rows."""
    for row in rows:
        if row.error_class != "denied":
            continue
        mapping = event_actions(row.event_source, row.event_name)
        for action in mapping.actions:
            derived = derive_resources(action, usage_call(row))
            for arn in (derived.arns if derived.known and derived.arns else ("*",)):
                yield action, arn, row.day, row.calls
