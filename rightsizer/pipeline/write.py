"""What ``run`` writes: ``summary.json`` (the contract the reports render from), the proposed
policies per role, and the reports rendered from the summary."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from rightsizer import aws_names
from rightsizer.aws_names import role_folder_name
from rightsizer.errors import ConfigError

if TYPE_CHECKING:
    from rightsizer.analysis.evidence import Coverage
    from rightsizer.analysis.explain import Failure
    from rightsizer.analysis.integrity import IntegrityReport
    from rightsizer.analysis.inventory import Inventory
    from rightsizer.analysis.role_changes import RoleChange
    from rightsizer.analysis.verdicts import Verdict
    from rightsizer.pipeline.history import RunHistory
    from rightsizer.pipeline.ingest import IngestSummary
    from rightsizer.pipeline.trails import TrailEvidence
    from rightsizer.proposal.rightsize import RoleResult, Window
    from rightsizer.settings import Settings

SCHEMA_VERSION = 1

log = logging.getLogger(__name__)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _verdict_json(verdict: Verdict) -> dict[str, object]:
    entry: dict[str, object] = {"action": verdict.action, "verdict": verdict.verdict,
                                "rule": verdict.rule}
    if verdict.reason:
        entry["reason"] = verdict.reason
    evidence = verdict.evidence
    if evidence is not None:
        resources: dict[str, int] = {}
        for (arn, _region), n in evidence.resources.items():
            resources[arn] = resources.get(arn, 0) + n
        entry.update({
            "calls": evidence.calls,
            "denied_calls": evidence.denied_calls,
            "first_seen": _iso(evidence.first_seen),
            "last_seen": _iso(evidence.last_seen),
            "sessions": evidence.sessions,
            "regions": sorted(evidence.regions),
            "invoked_by": sorted(evidence.invoked_by),
            # The most-called (``RESOURCES_LISTED``), of ``resource_count`` distinct ones.
            "resources": [{"arn": a, "calls": n} for a, n in sorted(resources.items())],
            "resource_count": evidence.resource_count,
            "unknown_resource_calls": evidence.unknown_resource_calls,
            "events": sorted(evidence.event_names),
        })
    return entry


def _role_json(result: RoleResult, policy_path: str | None,
               failures: Sequence[Failure] = (),
               changes: Sequence[RoleChange] = (), *,
               several_accounts: bool = False) -> dict[str, object]:
    from rightsizer.analysis.inventory import role_key

    role = result.role
    daily: dict[str, int] = {}
    for evidence in result.evidence.actions.values():
        for day, n in evidence.daily.items():
            daily[day.isoformat()] = daily.get(day.isoformat(), 0) + n
    by = {v.action: v for v in result.verdicts}
    scope: dict[str, set[str]] = {}  # where the proposal keeps each action
    for statement in result.proposal.statements if result.proposal else ():
        if statement.effect == "Allow":
            for action in statement.actions:
                scope.setdefault(action, set()).update(statement.resources)

    def kept(verdict: str) -> list[dict[str, object]]:
        return [{"action": a, "reason": by[a].reason, "resources": sorted(scope.get(a, ()))}
                for a in result.actions(verdict)]

    return {
        "name": role.name,
        "account": role_key(role.arn)[0],
        # How the reports name the role: with its account when the run holds several.
        "label": f"{role_key(role.arn)[0]}/{role.name}" if several_accounts else role.name,
        "arn": role.arn,
        "kinds": list(role.kinds),
        "task_definitions": list(role.task_definitions),
        "granted_actions": list(result.granted_actions),
        "used_actions": list(result.actions("used")),
        "unused_actions": list(result.actions("unused")),
        "kept_unobservable": kept("not_observable"),
        "kept_required": kept("required_by_task_definition"),
        "kept_excluded": kept("excluded"),
        "kept_unmapped": kept("kept_unmapped"),
        "kept_insufficient_evidence": kept("insufficient_evidence"),
        "kept_used_per_iam": kept("used_per_iam"),
        "evidence_sufficiency": result.sufficiency.as_json(),
        "denied_actions": list(result.actions("denied_attempt")),
        "used_not_granted": list(result.actions("used_not_granted")),
        "unmapped_events": list(result.actions("unmapped_event")),
        "proposed_actions": list(result.proposed_actions),
        "generalized": ([g.as_json() for g in result.proposal.generalized]
                        if result.proposal else []),
        "added_declared": ([{"action": c.action, "reason": c.reason}
                            for c in result.proposal.added] if result.proposal else []),
        "policy_path": policy_path,
        "findings": [f.as_json() for f in result.findings],
        "replay": result.replay.as_json() if result.replay else None,
        "notes": list(result.notes),
        "verdicts": [_verdict_json(v) for v in result.verdicts if v.verdict != "unused"],
        "activity": dict(sorted(daily.items())),
        "evidence": list(role.evidence),
        "needs": [{"kind": n.kind, "actions": list(n.actions), "resource": n.resource,
                   "reason": n.reason} for n in role.needs],
        "failures": [f.as_json() for f in failures],
        "changes": [c.as_json() for c in changes],
    }


def _report_order(result: RoleResult) -> tuple[int, int, str]:
    """The order roles are listed in: the worst finding first (a critical role is read first),
    then what the proposal removes (most first), then the name."""
    worst = min((f.severity.rank for f in result.findings), default=99)
    removed = (len(result.grants.actions) - len(result.proposed_actions)
               if result.proposal is not None else 0)
    return worst, -removed, result.role.name


def summarize(window: Window, results: Sequence[RoleResult], inv: Inventory,
              ingested: IngestSummary | None, logs: Sequence[str], evidence: TrailEvidence,
              events: int, settings: Settings, today: date,
              coverage: Coverage, *, failures: Sequence[Failure] = (),
              changes: Mapping[str, Sequence[RoleChange]] | None = None,
              analysis_input: Mapping[str, int] | None = None,
              integrity: IntegrityReport | None = None,
              history: RunHistory | None = None) -> dict[str, object]:
    from rightsizer import __version__
    from rightsizer.analysis.inventory import role_key
    from rightsizer.iam.actions import mapping_tables_version
    from rightsizer.iam.catalog import catalog

    roles = []
    folders = role_folders(Path(), results)
    accounts = sorted({role_key(r.role.arn)[0] for r in results})
    for result in sorted(results, key=_report_order):
        folder = folders[result.role.arn]
        path = (f"{folder.as_posix()}/policy.json"
                if result.proposal is not None and folder is not None else None)
        key = role_key(result.role.arn)
        entry = _role_json(
            result, path, [f for f in failures if role_key(f.role_arn) == key],
            [c for arn, found in (changes or {}).items() if role_key(arn) == key
             for c in found], several_accounts=len(accounts) > 1)
        if history is not None:
            entry.update(history.role_json(result.role.arn))
        roles.append(entry)
    summary: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "catalog_version": catalog().version,
        "mapping_version": mapping_tables_version(),
        "as_of": today.isoformat(),
        "window": {"start": _iso(window.start), "end": _iso(window.end),
                   "days": round(window.days, 2),
                   "min_window_days": settings.min_window_days},
        "sources": {
            "logs": list(logs), "iam": inv.sources[0], "ecs": inv.sources[1],
            "trails": [t.source for t in evidence.trails],
            "trails_assumed": evidence.origin == "inferred",
            "trails_origin": evidence.origin,
            "settings": settings.source,
        },
        "ingest": _ingest_json(ingested),
        "events_in_window": events,
        # What the analysis read, whichever runs stored it (an incremental run adds nothing).
        "analysis_input": dict(analysis_input or {"events": events, "files": 0,
                                                  "ingest_runs": 0}),
        "evidence": {
            "roles_judged": sum(r.sufficiency.sufficient for r in results),
            "roles_not_judged": sum(not r.sufficiency.sufficient for r in results),
            "coverage": coverage.places(),
        },
        "trails": [{"name": t.name, "management_read": t.management_read,
                    "management_write": t.management_write,
                    "excluded_management_sources": list(t.excluded_management_sources),
                    "data_resource_types": list(t.data_resource_types), "notes": list(t.notes)}
                   for t in evidence.trails],
        # CloudTrail log file integrity validation of the files the analysis used; null when
        # none was (an Athena run).
        "integrity": integrity.as_json() if integrity else None,
        "trail_warnings": list(evidence.warnings),
        "trail_changes": list(evidence.changes),
        "roles": roles,
        "problems": [p.as_json() for p in inv.problems],
    }
    if len(accounts) > 1:
        summary["organization"] = _organization(roles)
    summary["compliance"] = _compliance(results)
    if history is not None and history.since_last_run is not None:
        summary["since_last_run"] = history.since_last_run  # absent on the first run
    return summary


def _organization(roles: Sequence[Mapping[str, Any]]) -> dict[str, object]:
    """Per account of a run over several: its roles, how many were judged, the actions granted,
    used and proposed (a role without a proposal keeps what it is granted), and its findings by
    severity; then the worst findings across the organization (info left out)."""
    from rightsizer.analysis.findings import Severity

    totals: dict[str, Counter[str]] = {}
    severities: dict[str, Counter[str]] = {}
    worst: list[tuple[int, str, Mapping[str, Any]]] = []
    for role in roles:
        account = str(role["account"])
        has_proposal = role.get("policy_path") is not None
        totals.setdefault(account, Counter()).update({
            "roles": 1,
            "judged": int(bool(role["evidence_sufficiency"]["sufficient"])),
            "roles_with_proposal": int(has_proposal),
            "granted": len(role["granted_actions"]),
            "used": len(role["used_actions"]),
            "proposed": len(role["proposed_actions" if has_proposal else "granted_actions"]),
        })
        found = severities.setdefault(account, Counter())
        for finding in role["findings"]:
            found[finding["severity"]] += 1
            rank = Severity(finding["severity"]).rank
            if rank < Severity.INFO.rank:
                worst.append((rank, str(role["label"]), finding))
    worst.sort(key=lambda w: (w[0], w[1], str(w[2]["code"])))
    keys = ("roles", "judged", "roles_with_proposal", "granted", "used", "proposed")
    return {
        "accounts": [{"account": account, **{k: totals[account][k] for k in keys},
                      "findings": {s.value: severities[account][s.value] for s in Severity
                                   if severities[account][s.value]}}
                     for account in sorted(totals)],
        "worst_findings": [{"role": label, **finding}
                           for _, label, finding in worst[:_WORST_SHOWN]],
    }


# How many of the organization's worst findings its summary lists.
_WORST_SHOWN = 20


def _compliance(results: Sequence[RoleResult]) -> list[dict[str, object]]:
    """The controls this report bears on (data/controls.csv, each with its source): those the
    report is evidence for as a whole, and those of the findings it holds, with their codes."""
    from rightsizer.analysis.controls import controls_for, report_controls

    by_label: dict[str, dict[str, object]] = {}
    for control in report_controls():
        by_label.setdefault(control.label, {**control.as_json(), "findings": []})
    for code in sorted({f.code for r in results for f in r.findings}):
        for control in controls_for(code):
            entry = by_label.setdefault(control.label, {**control.as_json(), "findings": []})
            entry["findings"].append(code)  # type: ignore[union-attr]
    return sorted(by_label.values(), key=lambda c: (str(c["framework"]), str(c["control"])))


def render_reports(out: str | Path, *, pdf: bool = False,
                   summary: dict[str, object] | None = None) -> tuple[Path, ...]:
    """Write the reports of an output folder from its ``summary.json`` (the contract they render
    from): ``report.html``, ``report.md``, ``findings.csv``, and with ``pdf`` ``report.pdf``
    printed by headless Chromium (``BrowserMissing``, a ConfigError, says how to get it)."""
    from rightsizer.report.pdf import print_pdf
    from rightsizer.report.render import write_reports

    out = Path(out)
    if summary is None:
        path = out / "summary.json"
        try:
            summary = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no summary.json (run `rightsizer run` first)") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not a summary written by rightsizer: {exc}") from exc
    written = write_reports(out, summary)
    if pdf:
        written = (*written, print_pdf(out / "report.html", out / "report.pdf"))
    return written


def _ingest_json(ingested: IngestSummary | None) -> dict[str, object] | None:
    """What this run read, without what changes from run to run (run id, seconds)."""
    if ingested is None:
        return None
    data = ingested.as_json()
    for volatile in ("run_id", "seconds"):
        data.pop(volatile, None)
    if ingested.athena_queries:  # what Athena scanned and cost, per query
        for query in data["athena_queries"]:  # type: ignore[union-attr]
            query.pop("seconds", None)
    else:
        for key in ("athena_queries", "athena_bytes_scanned", "athena_cost_usd"):
            data.pop(key, None)
    return data


def write_output(out: Path, results: Sequence[RoleResult], summary: dict[str, object]) -> None:
    from rightsizer.proposal.render import (
        render_cloudformation,
        render_diff,
        render_policy_json,
        render_terraform,
    )

    out.mkdir(parents=True, exist_ok=True)
    folders = role_folders(out, results)
    for result in results:
        folder = folders[result.role.arn]
        if folder is None:
            log.warning("role %r: not a name a folder of %s can have; its files are not "
                        "written", result.role.name, out)
            continue
        if result.proposal is None:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)  # an earlier run's proposal is no longer recommended
            continue
        folder.mkdir(parents=True, exist_ok=True)
        granted = len(result.grants.actions)
        line = (f"{granted} actions granted, {len(result.proposed_actions)} proposed, "
                f"{len(result.proposal.removed)} removed")
        files = {
            "policy.json": render_policy_json(result.proposal),
            "policy.cfn.yaml": render_cloudformation(result.proposal),
            "policy.tf": render_terraform(result.proposal),
            "diff.md": render_diff(result.proposal, summary_line=line),
        }
        for name, text in files.items():
            write_text(folder / name, text)
    write_text(out / "summary.json",
                orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")


def role_folders(out: Path, results: Sequence[RoleResult]) -> dict[str, Path | None]:
    """Each role's folder, by ARN: ``OUT/roles/<name>`` when the run holds one account's roles,
    ``OUT/accounts/<account>/roles/<name>`` when it holds several (two accounts may each have a
    role of one name). None for a name no folder can have."""
    from rightsizer.analysis.inventory import role_key

    accounts = {role_key(r.role.arn)[0] for r in results}
    folders: dict[str, Path | None] = {}
    for result in results:
        account, name = role_key(result.role.arn)
        if len(accounts) > 1:
            if not aws_names.ACCOUNT_ID.fullmatch(account):
                folders[result.role.arn] = None
                continue
            folders[result.role.arn] = _role_folder(out / "accounts" / account / "roles", name)
        else:
            folders[result.role.arn] = _role_folder(out / "roles", name)
    return folders


def _role_folder(roles: Path, name: str) -> Path | None:
    """``roles/<folder>``, the folder being the role name encoded so that it cannot leave
    ``roles/`` (``aws_names.role_folder_name``); None when even that is no folder name (too long
    for the file system). rightsizer only ever writes, or deletes, inside its own folders."""
    folder_name = role_folder_name(name)
    if len(folder_name.encode()) > _NAME_MAX or folder_name in (".", ".."):
        return None
    folder = roles / folder_name
    if folder.resolve().parent != roles.resolve():
        return None
    return folder


# The longest file name most file systems take (ext4, APFS, NTFS: 255).
_NAME_MAX = 255


def write_text(path: Path, text: str) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
