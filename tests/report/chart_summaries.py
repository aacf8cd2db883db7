"""Small ``summary.json`` documents for the chart tests: roles with the counts, activity and
run history a chart reads, and nothing else."""

from __future__ import annotations

from typing import Any


def role(name: str, *, granted: int = 3, used: int = 1, unused: tuple[str, ...] = (),
         activity: dict[str, int] | None = None, proposal: bool = True) -> dict[str, Any]:
    granted_actions = [f"s3:Action{i}" for i in range(granted)]
    used_actions = granted_actions[:used]
    return {
        "name": name, "arn": f"arn:aws:iam::123456789012:role/{name}", "kinds": ["task"],
        "task_definitions": [], "granted_actions": granted_actions, "used_actions": used_actions,
        "unused_actions": list(unused), "kept_unobservable": [], "kept_required": [],
        "kept_excluded": [], "denied_actions": [], "used_not_granted": [],
        "unmapped_events": [], "proposed_actions": used_actions if proposal else [],
        "policy_path": f"roles/{name}/policy.json" if proposal else None, "findings": [],
        "replay": None, "notes": [], "verdicts": [], "activity": activity or {},
        "evidence": [], "needs": [],
    }


def summary(*roles: dict[str, Any], end: str = "2026-10-10T12:00:00Z", days: float = 9.5,
            runs: int = 0) -> dict[str, Any]:
    """A summary of ``roles`` over the window from 2026-10-01 to ``end``, with ``runs`` earlier
    runs in its history (one a day)."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "window": {"start": "2026-10-01T00:00:00Z", "end": end, "days": days,
                   "min_window_days": 30.0},
        "roles": list(roles)}
    if runs:
        document["since_last_run"] = {"totals": [
            {"as_of": f"2026-10-{d + 1:02}", "granted": 100 + d, "proposed": 10}
            for d in range(runs)]}
    return document
