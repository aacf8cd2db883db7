"""What the three formats of the report share: figures, words, findings, the replay in plain
words, and the tables of verdicts they are read against."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from rightsizer.analysis.evidence import CONFIDENCE_LEVELS
from rightsizer.report.charts import LEVEL_LABELS, role_label, unused_by_level
from rightsizer.text import plural

DASH = "\u2013"  # an en dash: "no value" in a table cell
TIMES = "\u00d7"  # a multiplication sign: "3 x never logged"
# Worst first, as docs/inventory.md "Findings" orders them.
SEVERITIES = ("critical", "high", "medium", "low", "info")

# Verdicts in the order a reader wants them: what the role did, what is kept without being seen,
# what it was refused, what could not be mapped.
VERDICT_ORDER = ("used", "used_not_granted", "used_per_iam", "not_observable",
                 "required_by_task_definition",
                 "excluded", "kept_unmapped", "insufficient_evidence", "denied_attempt",
                 "unmapped_event", "unused")
VERDICT_LABELS = {
    "used": "used",
    "unused": "unused",
    "not_observable": "kept: not observable",
    "used_per_iam": "kept: IAM saw it used",
    "required_by_task_definition": "kept: task definition needs it",
    "excluded": "kept: excluded by configuration",
    "insufficient_evidence": "kept: the logs cannot prove it unused",
    "kept_unmapped": "kept: unmapped calls of its service",
    "denied_attempt": "denied attempt",
    "used_not_granted": "used, not granted here",
    "unmapped_event": "unmapped event",
}
KEPT_VERDICTS = ("used_per_iam", "not_observable", "required_by_task_definition", "excluded",
                 "insufficient_evidence", "kept_unmapped")
TOP_RESOURCES = 5


# --- helpers shared by the three formats ------------------------------------------------------


def _n(value: int | float | None) -> str:
    return DASH if value is None else f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else DASH


def _ts(value: str | None, zone: bool = True) -> str:
    """``2026-09-28T02:52:07Z`` -> ``2026-09-28 02:52 UTC``; dates pass as they are."""
    if not value:
        return DASH
    text = str(value)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}" + (" UTC" if zone else "")
    return text


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _roles(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(summary.get("roles") or ())


def _findings(role: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return sorted(role.get("findings") or (),
                  key=lambda f: (_severity_rank(str(f.get("severity", ""))),
                                 str(f.get("code", "")), str(f.get("message", ""))))


def _all_findings(summary: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(role, finding) pairs sorted by severity, then role, then code."""
    pairs = [(role, f) for role in _roles(summary) for f in role.get("findings") or ()]
    return sorted(pairs, key=lambda p: (_severity_rank(str(p[1].get("severity", ""))),
                                        role_label(p[0]), str(p[1].get("code", "")),
                                        str(p[1].get("message", ""))))


def _severity_counts(summary: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = Counter(str(f.get("severity", "")) for _, f in _all_findings(summary))
    return sorted(counts.items(), key=lambda item: (_severity_rank(item[0]), item[0]))


def _worst(role: Mapping[str, Any]) -> str | None:
    found = _findings(role)
    return str(found[0].get("severity", "")) if found else None


def _reason_kind(action: str, reason: str) -> str:
    """What a kept reason says, without the action's name and the sources it cites, so that
    reasons can be counted across actions ("never logged by CloudTrail", ...)."""
    text = str(reason).replace(str(action), "").strip()
    text = text.split(": ", 1)[0].strip()  # "AWS::S3::Object" has no ": "
    return text.removeprefix("is ").strip() or "no reason given"


def _kept_reasons(summary: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = Counter(_reason_kind(k.get("action", ""), k.get("reason", ""))
                     for role in _roles(summary) for k in role.get("kept_unobservable") or ())
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _window(summary: Mapping[str, Any]) -> dict[str, Any]:
    window = summary.get("window") or {}
    days = window.get("days")
    minimum = window.get("min_window_days")
    short = days is not None and minimum is not None and float(days) < float(minimum)
    return {"start": window.get("start"), "end": window.get("end"), "days": days,
            "min_days": minimum, "short": short,
            "text": _window_text(window.get("start"), window.get("end"))}


def _window_text(start: str | None, end: str | None) -> str:
    """The window as the days a person reads, first and last inclusive, as the CLI prints it:
    ``2026-09-27 to 2026-10-31 (35 days, UTC)``; when it starts or ends inside a day (the
    store's first and last events), the times too. ``end`` is exclusive."""
    try:
        first = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        stop = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return f"{start or '?'} to {end or '?'}"
    last = stop - timedelta(microseconds=1)
    days = (last.date() - first.date()).days + 1
    text = f"{first:%Y-%m-%d} to {last:%Y-%m-%d} ({plural(days, 'day')}, UTC"
    midnight = time(0, 0)
    if first.time() != midnight or stop.time() != midnight:
        text += f"; from {first:%H:%M} on the first day to {stop:%H:%M} on the last"
    return text + ")"


def _coverage(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the logs read cover, and how many roles that let rightsizer judge."""
    evidence = summary.get("evidence") or {}
    return {"places": [dict(p) for p in evidence.get("coverage") or ()],
            "judged": evidence.get("roles_judged"),
            "not_judged": evidence.get("roles_not_judged") or 0}


# Statuses of CloudTrail log file integrity validation, in words, worst first.
_INTEGRITY_WORDS = (("modified", "modified"), ("missing", "missing"),
                    ("signature_invalid", "digest signature invalid"),
                    ("chain_broken", "digest chain broken"), ("not_covered", "not covered"),
                    ("valid", "valid"))
INTEGRITY_SHOWN = 50  # files listed in the report; summary.json holds them all


def _integrity(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The log integrity check in words: a line of counts, whether it failed, the files."""
    found = summary.get("integrity")
    if not isinstance(found, Mapping):
        return {"checked": False, "line": "not checked: no log file was read (Athena reads "
                                          "them), or this summary predates the check",
                "failed": False, "files": [], "more": 0}
    counts = found.get("counts") or {}
    parts = [f"{_n(int(counts.get(key) or 0))} {words}" for key, words in _INTEGRITY_WORDS
             if counts.get(key)]
    files = list(found.get("files") or ())
    failed = any(counts.get(k) for k in ("modified", "missing", "signature_invalid",
                                         "chain_broken"))
    unsigned = int(found.get("digests_unsigned") or 0)
    line = (", ".join(parts) or "no file") + (
        f"; {_n(int(found.get('digests_verified') or 0))} of "
        f"{plural(int(found.get('digests') or 0), 'digest file')} verified with "
        f"{plural(int(found.get('public_keys') or 0), 'public key')}") + (
        f"; {_n(unsigned)} not checked, each the newest of its chain: its signature is only "
        "in the S3 object's metadata" if unsigned else "")
    return {"checked": True, "line": line, "failed": failed,
            "files": files[:INTEGRITY_SHOWN], "more": max(0, len(files) - INTEGRITY_SHOWN)}


def _since_last_run(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """What changed since the last run, in words; None on a first run."""
    since = summary.get("since_last_run")
    if not isinstance(since, Mapping):
        return None
    rows = []
    for role in since.get("roles") or ():
        granted = list(role.get("granted") or (0, 0))
        rows.append({"name": str(role.get("label") or role.get("name", "")),
                     "granted": f"{_n(granted[0])} \u2192 {_n(granted[-1])}",
                     **{key: ", ".join(str(x) for x in role.get(key) or ()) or DASH
                        for key in ("newly_used", "no_longer_used", "new_denied",
                                    "new_findings", "resolved_findings")}})
    totals = list(since.get("totals") or ())
    moved = (f"granted {_n(int(totals[-2].get('granted') or 0))} \u2192 "
             f"{_n(int(totals[-1].get('granted') or 0))}, after the proposals "
             f"{_n(int(totals[-2].get('proposed') or 0))} \u2192 "
             f"{_n(int(totals[-1].get('proposed') or 0))}") if len(totals) >= 2 else ""
    return {"previous": str(since.get("previous_as_of", "?")), "rows": rows, "moved": moved,
            "added": list(since.get("roles_added") or ()),
            "gone": list(since.get("roles_gone") or ()), "runs": len(totals)}


def _organization(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """A run over several accounts: a row per account, and the worst findings across them;
    None for one account's run."""
    organization = summary.get("organization")
    if not isinstance(organization, Mapping):
        return None
    rows = []
    for entry in organization.get("accounts") or ():
        granted, proposed = int(entry.get("granted") or 0), int(entry.get("proposed") or 0)
        findings = entry.get("findings") or {}
        rows.append({
            "account": str(entry.get("account", "")), "roles": int(entry.get("roles") or 0),
            "judged": int(entry.get("judged") or 0), "granted": granted,
            "used": int(entry.get("used") or 0), "proposed": proposed,
            "removed_pct": _pct(granted - proposed, granted),
            "findings": ", ".join(f"{n} {s}" for s, n in findings.items()) or "none"})
    worst = [{"role": str(f.get("role", "")), "severity": str(f.get("severity", "")),
              "code": str(f.get("code", "")), "message": str(f.get("message", ""))}
             for f in organization.get("worst_findings") or ()]
    return {"accounts": rows, "worst": worst}


def _compliance(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The controls the report bears on, each with the findings that bear on it and its source."""
    return [{"label": f"{c.get('framework', '')} {c.get('control', '')}",
             "title": str(c.get("title", "")), "source": str(c.get("source", "")),
             "findings": ", ".join(str(x) for x in c.get("findings") or ()) or
             "the report as a whole (a review of the roles' privileges)"}
            for c in summary.get("compliance") or ()]


def _sufficiency(role: Mapping[str, Any]) -> dict[str, Any] | None:
    """A role's evidence, in words: how sure the proposal is, or what is missing."""
    found = role.get("evidence_sufficiency")
    if not found:
        return None
    days, window, sessions = (found.get("active_days"), found.get("window_days"),
                              found.get("sessions"))
    places = []
    for place in found.get("footprint") or ():
        gaps = [f"{g.get('start')} to {g.get('end')} ({g.get('hours')} h)"
                for g in place.get("gaps") or ()]
        places.append({"place": f"{place.get('region')} ({place.get('account')})",
                       "why": "; ".join(place.get("why") or ()),
                       "hours": place.get("hours_delivered"), "events": place.get("events"),
                       "gaps": gaps})
    confidence = str(found.get("confidence") or "?")
    return {"sufficient": bool(found.get("sufficient")),
            "confidence": confidence,
            "how_sure": _how_sure(role, confidence, days, window, sessions),
            "missing": [str(m) for m in found.get("missing") or ()],
            "places": places}


# Why a kept permission was kept, in words, by the summary list that holds it.
_KEPT_LISTS = (("kept_used_per_iam", "IAM saw it used, CloudTrail did not"),
               ("kept_required", "the task definition needs"),
               ("kept_excluded", "excluded by the configuration"),
               ("kept_unmapped", "its service had calls rightsizer could not map"),
               ("kept_insufficient_evidence", "the logs cannot prove unused"))


def _how_sure(role: Mapping[str, Any], confidence: str, days: Any, window: Any,
              sessions: Any) -> list[str]:
    """How sure the proposal is, this role's figures in words: how much of the window it was
    active in, how many task sessions and calls, what the level needs, what was generalized
    from how many observed resources, and what was kept without being seen and why."""
    days, window, sessions = int(days or 0), int(window or 0), int(sessions or 0)
    calls = int((role.get("replay") or {}).get("calls", 0))
    lines = [f"Active on {days:,} of {plural(window, 'day')} in the window "
             f"({_pct(days, window)}), in {plural(sessions, 'task session')}, with "
             f"{plural(calls, 'call')} replayed against the proposal."]
    levels = dict((level, (d, n)) for level, d, n in CONFIDENCE_LEVELS)
    if confidence == "high":
        d, n = levels["high"]
        lines.append(f"High: at least {plural(d, 'active day')} and "
                     f"{plural(n, 'task session')}.")
    elif confidence in ("medium", "low"):
        above = "high" if confidence == "medium" else "medium"
        d, n = levels[above]
        short = [f"{plural(days, 'active day')} (not {d})" if days < d else "",
                 f"{plural(sessions, 'task session')} (not {n})" if sessions < n else ""]
        lines.append(f"{above.capitalize()} would need at least {plural(d, 'active day')} "
                     f"and {plural(n, 'task session')}; this role had "
                     + " and ".join(x for x in short if x) + ". A path its tasks rarely take "
                     "is more likely to have been missed: apply in a test environment first.")
    generalized = list(role.get("generalized") or ())
    if generalized:
        observed = [int(g.get("observed", 0)) for g in generalized]
        each = f" ({', '.join(f'{n:,}' for n in observed)})" if len(observed) > 1 else ""
        lines.append(f"{plural(len(generalized), 'resource pattern')} "
                     f"{'generalizes' if len(generalized) == 1 else 'generalize'} "
                     f"{plural(sum(observed), 'observed resource')}{each}: a new resource of the "
                     "same shape is allowed; every other resource is named as it was seen.")
    else:
        lines.append("Nothing was generalized: every resource is named as it was seen.")
    kept: Counter[str] = Counter(
        _reason_kind(k.get("action", ""), k.get("reason", ""))
        for k in role.get("kept_unobservable") or ())
    for key, why in _KEPT_LISTS:
        kept[why] += len(role.get(key) or ())
    total = sum(kept.values())
    if total:
        lines.append(f"{plural(total, 'permission')} kept without being seen: " + "; ".join(
            f"{n:,} {TIMES} {why}" for why, n in sorted(kept.items(), key=lambda i: (-i[1], i[0]))
            if n) + ".")
    else:
        lines.append("Nothing was kept without being seen.")
    return lines


def _trail_lines(trail: Mapping[str, Any]) -> dict[str, Any]:
    read, write = bool(trail.get("management_read")), bool(trail.get("management_write"))
    management = ("read and write" if read and write else "write only" if write
                  else "read only" if read else "none")
    data = list(trail.get("data_resource_types") or ())
    excluded = list(trail.get("excluded_management_sources") or ())
    return {"name": str(trail.get("name", "")), "management": management, "data": data,
            "excluded": excluded, "notes": list(trail.get("notes") or ())}


def _trail_limits(summary: Mapping[str, Any]) -> list[str]:
    """Plain sentences: what the trails could not have shown, and what rightsizer did about it."""
    trails = [_trail_lines(t) for t in summary.get("trails") or ()]
    limits = []
    if not trails:
        return ["No trail settings are recorded in this summary: what CloudTrail could show is "
                "unknown."]
    if not any(t["management"] == "read and write" for t in trails):
        limits.append("No trail records both read and write management events: actions of the "
                      "kind not recorded were kept as not observable, not removed.")
    data = sorted({d for t in trails for d in t["data"]})
    if data:
        limits.append("Data events are recorded only for " + ", ".join(data) + ". Actions "
                      "that show only as data events of other types could not be seen: they "
                      "are kept, not removed.")
    else:
        limits.append("No data events are recorded: actions that show only as data events (S3 "
                      "object reads and writes, Lambda invocations, DynamoDB item calls, ...) "
                      "could not be seen. They are kept, not removed, and their use is unknown.")
    excluded = sorted({e for t in trails for e in t["excluded"]})
    if excluded:
        limits.append("Management events of " + ", ".join(excluded) + " are excluded by a "
                      "trail: their actions could not be seen and are kept.")
    if any(t["notes"] for t in trails):
        limits.append("Some event selectors were ignored or approximated (see the notes in the "
                      "table).")
    return limits


def _ingest(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    ingest = summary.get("ingest")
    if not ingest:
        return None
    return {
        "files_seen": ingest.get("files_seen", 0),
        "files_ingested": ingest.get("files_ingested", 0),
        "files_already": ingest.get("files_already_ingested", 0),
        "skipped": list(ingest.get("files_skipped") or ()),
        "events": ingest.get("events_ingested", 0),
        "duplicates": ingest.get("events_duplicate", 0),
        "conflicting": ingest.get("events_conflicting", 0),
        "bad": list(ingest.get("bad_inputs") or ()),
        "athena": list(ingest.get("athena_queries") or ()),
        "athena_bytes": ingest.get("athena_bytes_scanned", 0),
        "athena_cost": ingest.get("athena_cost_usd", 0.0),
    }


def _policy_link(role: Mapping[str, Any], name: str) -> str | None:
    """A relative link to ``name`` in the role's output folder, or None when there is no
    proposal or the recorded path is not a plain relative path (never a scheme or a way out)."""
    path = role.get("policy_path")
    if not path:
        return None
    folder = PurePosixPath(str(path)).parent
    if ":" in str(path) or folder.is_absolute() or ".." in folder.parts:
        return None
    return quote(str(folder / name), safe="/")


def _unused_groups(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Unused actions grouped by service; inside a service by access level, harm first."""
    levels = unused_by_level(role)
    services: dict[str, dict[str, list[str]]] = {}
    for level, actions in levels.items():
        for action in actions:
            service, _, name = action.partition(":")
            services.setdefault(service, {}).setdefault(level, []).append(name or action)
    return [{"service": service,
             "count": sum(len(v) for v in by_level.values()),
             "levels": [(LEVEL_LABELS[level], names) for level, names in by_level.items()]}
            for service, by_level in sorted(services.items())]


def _level_counts(role: Mapping[str, Any]) -> list[tuple[str, int, list[str]]]:
    return [(LEVEL_LABELS[level], len(actions), actions)
            for level, actions in unused_by_level(role).items()]


# --- replay ---------------------------------------------------------------------------------


def _replay(role: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The proof in plain words: a status (``proven``, ``failed``, ``nothing to replay``,
    ``no proposal``) and the sentences that say it."""
    replay = role.get("replay")
    has_proposal = bool(role.get("policy_path"))
    if not replay:
        if has_proposal:
            return "not replayed", ["No replay figures are recorded for this proposal: check it "
                                    "before applying it."]
        why = "; ".join(str(n) for n in role.get("notes") or ()) or next(
            (str(f.get("message", "")) for f in _findings(role)
             if f.get("code") in ("PROPOSAL_TOO_LARGE", "PROPOSAL_FAILED_PROOF")), "")
        text = "No proposal was made" + (f" ({why})" if why else "") + (
            ": nothing was replayed, and the role keeps its current policies.")
        return "no proposal", [text]
    calls = int(replay.get("calls", 0))
    failed = int(replay.get("failed", 0))
    conditional = int(replay.get("conditional", 0))
    elsewhere = int(replay.get("granted_elsewhere", 0))
    unknown = int(replay.get("unknown_resource", 0))
    unused_allowed = list(replay.get("unused_allowed") or ())
    broader = list(replay.get("broader") or ())
    passed = bool(replay.get("passed", failed == 0 and not unused_allowed and not broader))
    lines: list[str] = []
    if passed:
        if calls == 0:
            status = "nothing to replay"
            lines.append("The role made no call in the window that its own policies allowed, so "
                         "there was nothing to replay: the proposal rests on the verdicts alone.")
        else:
            status = "proven"
            # Calls outside the replay (granted elsewhere, resource unknown) are said below.
            which = " that its own policies allowed" if elsewhere or unknown else ""
            lines.append(f"The one call the role made in the window{which} is still allowed by "
                         "the proposal." if calls == 1 else
                         f"Every one of the {calls:,} calls the role made in the window{which} is "
                         "still allowed by the proposal.")
        if conditional:
            lines.append(f"{plural(conditional, 'of them is', 'of them are')} allowed only if "
                         "the conditions kept from the original statements hold (CloudTrail does "
                         "not record the keys they test).")
        lines.append("No permission judged unused is still allowed, and no proposed permission "
                     "is broader than what was granted.")
    else:
        status = "failed"
        first = "; ".join(str(x) for x in replay.get("failures") or ())
        lines.append(f"The proof failed: {failed:,} of the {calls:,} replayed calls would be "
                     "denied by the proposal" + (f" (first: {first})" if first else "") + ".")
        if unused_allowed:
            lines.append("Unused actions the proposal would still allow: "
                         + ", ".join(unused_allowed) + ".")
        if broader:
            lines.append("Proposed permissions broader than any granting statement: "
                         + ", ".join(broader) + ".")
        lines.append("The proposal was not written: the role keeps its current policies.")
    if unknown:
        lines.append(f"{plural(unknown, 'more call')} named no resource, so could not be "
                     "replayed one by one: the resource scope kept for the action covers "
                     f"{'it' if unknown == 1 else 'them'}.")
    if elsewhere:
        lines.append(f"{plural(elsewhere, 'more call')} succeeded through something other than "
                     "the role's own policies (a resource policy, for example): "
                     "not replayed, and not added to the proposal.")
    return status, lines


