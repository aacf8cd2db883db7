"""The reports of an output folder, rendered from ``summary.json`` alone (plus the per-role
``policy.json`` and ``diff.md`` the run wrote beside it).

Why from the summary and not from live objects: ``summary.json`` is the contract (DESIGN.md), so
``rightsizer report OUT`` can render a folder written by an earlier run, and the reports can never
say something the machine-readable result does not.

- ``report.html``: one self-contained file for a compliance reviewer: inline CSS and inline SVG
  charts, no script, no external reference of any kind, printable on A4. Jinja2 with autoescape
  on: every string that came from CloudTrail, IAM or a task definition is escaped; the only markup
  not escaped is what this module builds itself (the SVG of our own charts, and ``diff.md``
  rendered by a small Markdown subset that escapes all text before adding its own tags).
- ``report.md``: the same findings for a pull request or a ticket, table cells escaped so that
  data never breaks a row.
- ``findings.csv``: one row per finding, worst first.

Everything is deterministic: the same summary gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from rightsizer.report import charts
from rightsizer.report.charts import LEVEL_LABELS, RoleCounts, role_counts, unused_by_level

__all__ = [
    "render_findings_csv",
    "render_html",
    "render_markdown",
    "write_reports",
]

DASH = "\u2013"  # an en dash: "no value" in a table cell
TIMES = "\u00d7"  # a multiplication sign: "3 x never logged"
SEVERITIES = ("critical", "high", "medium", "low", "info")  # README "Findings": worst first

# Verdicts in the order a reader wants them: what the role did, what is kept without being seen,
# what it was refused, what could not be mapped.
VERDICT_ORDER = ("used", "used_not_granted", "not_observable", "required_by_task_definition",
                 "excluded", "denied_attempt", "unmapped_event", "unused")
VERDICT_LABELS = {
    "used": "used",
    "unused": "unused",
    "not_observable": "kept: not observable",
    "required_by_task_definition": "kept: task definition needs it",
    "excluded": "kept: excluded by configuration",
    "denied_attempt": "denied attempt",
    "used_not_granted": "used, not granted here",
    "unmapped_event": "unmapped event",
}
KEPT_VERDICTS = ("not_observable", "required_by_task_definition", "excluded")
TOP_RESOURCES = 5


# --- helpers shared by the three formats ------------------------------------------------------


def _n(value: int | float | None) -> str:
    return DASH if value is None else f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else DASH


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


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
                                        str(p[0].get("name", "")), str(p[1].get("code", "")),
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
            "min_days": minimum, "short": short}


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
            lines.append(f"{_plural(conditional, 'of them is', 'of them are')} allowed only if "
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
        lines.append(f"{_plural(unknown, 'more call')} named no resource, so could not be "
                     "replayed one by one: the resource scope kept for the action covers "
                     f"{'it' if unknown == 1 else 'them'}.")
    if elsewhere:
        lines.append(f"{_plural(elsewhere, 'more call')} succeeded through something other than "
                     "the role's own policies (a resource policy, for example): "
                     "not replayed, and not added to the proposal.")
    return status, lines


# --- HTML -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rightsizer.report", "templates"),
        autoescape=True,  # every template, whatever its name: data is escaped, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["n"] = _n
    env.filters["ts"] = _ts
    env.filters["g"] = lambda x: DASH if x is None else f"{float(x):g}"
    return env


def _verdict_row(verdict: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(verdict.get("verdict", ""))
    resources = sorted(verdict.get("resources") or (),
                       key=lambda r: (-int(r.get("calls", 0)), str(r.get("arn", ""))))
    return {
        "action": str(verdict.get("action", "")),
        "verdict": kind,
        "label": VERDICT_LABELS.get(kind, kind),
        "kept": kind in KEPT_VERDICTS,
        "calls": verdict.get("calls"),
        "denied_calls": verdict.get("denied_calls") or 0,
        "first_seen": verdict.get("first_seen"),
        "last_seen": verdict.get("last_seen"),
        "sessions": verdict.get("sessions"),
        "regions": list(verdict.get("regions") or ()),
        "resources": resources[:TOP_RESOURCES],
        "more_resources": max(len(resources) - TOP_RESOURCES, 0),
        "unknown_resource_calls": verdict.get("unknown_resource_calls") or 0,
        "invoked_by": list(verdict.get("invoked_by") or ()),
        "rule": str(verdict.get("rule", "")),
        # Kept verdicts give their reason in the "kept" table; the others rarely have one.
        "reason": "" if kind in KEPT_VERDICTS else str(verdict.get("reason", "") or ""),
    }


def _verdict_rank(row: Mapping[str, Any]) -> tuple[int, str]:
    kind = row["verdict"]
    return (VERDICT_ORDER.index(kind) if kind in VERDICT_ORDER else len(VERDICT_ORDER),
            row["action"])


def _needs(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the task definitions declare, one row per (actions, resource), reasons merged."""
    merged: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for need in role.get("needs") or ():
        key = (tuple(need.get("actions") or ()), str(need.get("resource", "")))
        reasons = merged.setdefault(key, [])
        if need.get("reason") and need["reason"] not in reasons:
            reasons.append(str(need["reason"]))
    return [{"actions": list(actions), "resource": resource, "reasons": reasons[:3],
             "more": max(len(reasons) - 3, 0)}
            for (actions, resource), reasons in sorted(merged.items())]


def _policy(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return {"text": text, "documents": None, "statements": None, "valid": False}
    documents = document if isinstance(document, list) else [document]
    statements = 0
    for doc in documents:
        found = doc.get("Statement", []) if isinstance(doc, dict) else []
        statements += len(found) if isinstance(found, list) else 1
    return {"text": _compact_json(document), "valid": True, "documents": len(documents),
            "statements": statements}


def _fits_inline(value: Any) -> bool:
    """Short lists of plain values, and one-key objects of those (conditions), fit on a line."""
    if isinstance(value, list):
        return all(not isinstance(v, dict | list) for v in value)
    if isinstance(value, dict):
        return len(value) == 1 and all(_fits_inline(v) for v in value.values())
    return True


def _compact_json(value: Any, indent: int = 0, column: int = 0, width: int = 100) -> str:
    """JSON indented like policy.json, but with each short list of actions or resources on one
    line: the same policy, on half the paper. ``column`` is where the value starts."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or (_fits_inline(value) and column + len(flat) <= width):
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            head = f"{pad}{json.dumps(key, ensure_ascii=False)}: "
            items.append(head + _compact_json(item, indent + 2, len(head), width))
        body, ends = ",\n".join(items), "{}"
    else:
        body = ",\n".join(pad + _compact_json(item, indent + 2, len(pad), width)
                           for item in value)
        ends = "[]"
    return f"{ends[0]}\n{body}\n{' ' * indent}{ends[1]}" if body else ends


def _role_view(index: int, role: Mapping[str, Any], policies: Mapping[str, str] | None,
               diffs: Mapping[str, str] | None) -> dict[str, Any]:
    name = str(role.get("name", ""))
    counts = role_counts(role)
    rows = sorted((_verdict_row(v) for v in role.get("verdicts") or ()
                   if v.get("verdict") != "unused"), key=_verdict_rank)
    kept = [{"action": str(k.get("action", "")), "label": label, "reason": str(k.get("reason", ""))}
            for key, label in (("kept_unobservable", "not observable"),
                               ("kept_required", "a task definition needs it"),
                               ("kept_excluded", "excluded by configuration"))
            for k in role.get(key) or ()]
    policy = _policy((policies or {}).get(name))
    diff_text = (diffs or {}).get(name)
    status, replay = _replay(role)
    return {
        "anchor": f"role-{index}",
        "name": name,
        "arn": str(role.get("arn", "")),
        "kinds": list(role.get("kinds") or ()),
        "task_definitions": list(role.get("task_definitions") or ()),
        "evidence": list(role.get("evidence") or ()),
        "notes": list(role.get("notes") or ()),
        "findings": _findings(role),
        "worst": _worst(role),
        "counts": counts,
        "removed_pct": _pct(counts.removed, counts.granted),
        "rows": rows,
        "denied": [r for r in rows if r["verdict"] == "denied_attempt"],
        "kept": kept,
        "unused": _unused_groups(role),
        "unused_levels": _level_counts(role),
        "needs": _needs(role),
        "policy": policy,
        "policy_link": _policy_link(role, "policy.json"),
        "diff_link": _policy_link(role, "diff.md"),
        "diff": _diff_html(diff_text, policy_shown=policy is not None) if diff_text else None,
        "replay_status": status,
        "replay": replay,
    }


def _chart(kind: str, summary: Mapping[str, Any], caption: str) -> dict[str, Any]:
    figure = getattr(charts, kind)(summary)
    # Our own SVG: matplotlib escapes every text it writes, and figure_svg removes every
    # external reference. It is the only markup of the report not escaped by the template.
    svg = Markup(charts.figure_svg(figure, id_prefix=f"{kind}-"))
    return {"id": f"chart-{kind}", "svg": svg, "caption": caption,
            "alt": charts.chart_alt_text(kind, summary)}


def _base(summary: Mapping[str, Any], views: list[dict[str, Any]]) -> dict[str, Any]:
    """What every format shows: provenance, the account's totals, the role views."""
    roles = _roles(summary)
    counts: list[RoleCounts] = [v["counts"] for v in views]
    granted = sum(c.granted for c in counts)
    after = sum(c.after for c in counts)
    sources = summary.get("sources") or {}
    return {
        "tool_version": summary.get("tool_version", "?"),
        "catalog_version": summary.get("catalog_version", "?"),
        "mapping_version": summary.get("mapping_version", "?"),
        "schema_version": summary.get("schema_version", "?"),
        "as_of": summary.get("as_of", "?"),
        "window": _window(summary),
        "sources": {
            "logs": list(sources.get("logs") or ()),
            "iam": sources.get("iam"),
            "ecs": sources.get("ecs"),
            "trails": list(sources.get("trails") or ()),
            "trails_assumed": bool(sources.get("trails_assumed")),
            "settings": sources.get("settings"),
        },
        "ingest": _ingest(summary),
        "events_in_window": summary.get("events_in_window"),
        "trails": [_trail_lines(t) for t in summary.get("trails") or ()],
        "trail_limits": _trail_limits(summary),
        "problems": list(summary.get("problems") or ()),
        "totals": {
            "roles": len(counts),
            "granted": granted,
            "used": sum(c.used for c in counts),
            "unused": sum(c.unused for c in counts),
            "kept": sum(c.kept for c in counts),
            "after": after,
            "removed": granted - after,
            "removed_pct": _pct(granted - after, granted),
            "unobservable": sum(len(r.get("kept_unobservable") or ()) for r in roles),
            "no_proposal": sum(1 for c in counts if not c.has_proposal),
            "failed_proofs": sum(1 for v in views if v["replay_status"] == "failed"),
        },
        "kept_reasons": _kept_reasons(summary)[:5],
        "severity_counts": _severity_counts(summary),
        "roles": views,
    }


def _context(summary: Mapping[str, Any], policies: Mapping[str, str] | None,
             diffs: Mapping[str, str] | None) -> dict[str, Any]:
    views = [_role_view(i, role, policies, diffs)
             for i, role in enumerate(_roles(summary), start=1)]
    anchors = {id(role): view["anchor"] for role, view in zip(_roles(summary), views,
                                                             strict=True)}
    return {
        **_base(summary, views),
        "findings": [{"role": str(r.get("name", "")), "anchor": anchors.get(id(r), ""),
                      "severity": str(f.get("severity", "")), "code": str(f.get("code", "")),
                      "message": str(f.get("message", ""))} for r, f in _all_findings(summary)],
        "charts": [
            _chart("reduction", summary, "The account at a glance: permissions granted now, "
                   "and what remains once every proposal is applied."),
            _chart("granted_used_proposed", summary, "Per role: actions granted, used in the "
                   "window, and proposed (used plus kept)."),
            _chart("unused_by_access_level", summary, "Unused permissions by IAM access level, "
                   "the most harmful first: these are what the proposals remove."),
            _chart("daily_activity", summary, "Calls per day over the window: a role active "
                   "only on a few days (a monthly job, say) needs a long window."),
        ],
    }


def render_html(summary: Mapping[str, Any], *, policies: Mapping[str, str] | None = None,
                diffs: Mapping[str, str] | None = None) -> str:
    """``report.html``: self-contained (inline CSS and SVG, no script, no external reference)."""
    return _env().get_template("report.html.j2").render(_context(summary, policies, diffs))


# --- a Markdown subset, for diff.md inside the HTML -----------------------------------------

_INLINE = re.compile(r"(`+)(.+?)\1|\*\*(.+?)\*\*|\\([!-/:-@\[-`{-~])")
_PIPE = re.compile(r"(?<!\\)\|")


def _inline_md(text: str) -> str:
    """Code spans, bold and backslash escapes; every piece of text is escaped first. Links and
    images are deliberately not supported: nothing in the report may fetch anything."""
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(str(escape(text[pos:match.start()])))
        if match.group(1):
            out.append(f"<code>{escape(match.group(2).strip())}</code>")
        elif match.group(3) is not None:
            out.append(f"<strong>{_inline_md(match.group(3))}</strong>")
        else:
            out.append(str(escape(match.group(4))))
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip() for cell in _PIPE.split(body)]


def markdown_html(text: str, *, heading_offset: int = 3) -> Markup:
    """Headings, paragraphs, lists, pipe tables and fenced code of ``text`` as HTML, every text
    escaped (the subset ``diff.md`` uses; anything else shows as plain text)."""
    lines = text.replace("\r\n", "\n").split("\n")
    html: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{_inline_md(' '.join(paragraph))}</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            fence = stripped[:len(stripped) - len(stripped.lstrip("`"))]
            block: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                block.append(lines[i])
                i += 1
            html.append(f"<pre><code>{escape(chr(10).join(block))}</code></pre>")
        elif heading := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = min(len(heading.group(1)) + heading_offset, 6)
            html.append(f"<h{level}>{_inline_md(heading.group(2))}</h{level}>")
        elif stripped.startswith("|"):
            flush()
            table = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                table.append(lines[i])
                i += 1
            i -= 1
            separator = len(table) > 1 and re.fullmatch(r"[|\s:-]+", table[1].strip())
            head, body = (table[0], table[2:]) if separator else (None, table)
            rows = []
            if head is not None:
                rows.append("<thead><tr>" + "".join(f"<th>{_inline_md(c)}</th>"
                                                    for c in _cells(head)) + "</tr></thead>")
            rows.append("<tbody>" + "".join(
                "<tr>" + "".join(f"<td>{_inline_md(c)}</td>" for c in _cells(r)) + "</tr>"
                for r in body) + "</tbody>")
            html.append("<table>" + "".join(rows) + "</table>")
        elif re.match(r"[-*]\s+", stripped):
            flush()
            items = []
            while i < len(lines) and re.match(r"[-*]\s+", lines[i].strip()):
                items.append(f"<li>{_inline_md(lines[i].strip()[1:].strip())}</li>")
                i += 1
            i -= 1
            html.append("<ul>" + "".join(items) + "</ul>")
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return Markup("\n".join(html))  # built from escaped text only


def _table_rows(body: Sequence[str]) -> int:
    rows = [line for line in body if line.strip().startswith("|")]
    return max(len(rows) - 2, 0)


def _diff_html(text: str, *, policy_shown: bool) -> Markup:
    """``diff.md`` without what the report already shows: its title, the removed and kept
    tables (the verdicts and the unused list above; counted here), and the policy's JSON when
    the policy is shown above. Sections it does not know are rendered in full."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        else:
            sections[-1][1].append(line)
    parts: list[str] = []
    for title, body in sections:
        if title is None:
            kept = [line for line in body if not line.startswith("# ")]
            parts.append("\n".join(kept))
        elif title in ("Removed", "Kept"):
            rows = _table_rows(body)
            what = "removed" if title == "Removed" else "kept"
            parts.append(f"## {title}\n\n" + (f"{_plural(rows, 'action')} {what}: each with the "
                                                "reason in `diff.md`." if rows else "None."))
        elif title == "Proposed policy" and policy_shown:
            kept_lines, fenced = [], False
            for line in body:
                if line.strip().startswith("```"):
                    fenced = not fenced
                    continue
                if not fenced:
                    kept_lines.append(line)
            if any(line.strip() for line in kept_lines):
                parts.append(f"## {title}\n" + "\n".join(kept_lines))
        else:
            parts.append(f"## {title}\n" + "\n".join(body))
    return markdown_html("\n\n".join(parts))


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#!~])")


def md_text(value: object) -> str:
    """Text safe in Markdown and in a table cell: no markup, no HTML, one line, pipes escaped."""
    text = " ".join(str(value).split())  # newlines (and tabs) would end the table row
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_code(value: object) -> str:
    """A code span that survives any content: a fence longer than the longest backtick run,
    and pipes escaped (GitHub splits table cells on pipes even inside code). Text with HTML
    characters is not put in code (where ``&lt;`` would show as such) but escaped as text:
    a report must not carry raw markup, whatever renders it."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    if not text:
        return ""
    if any(c in text for c in "<>&"):
        return md_text(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    return [_md_row(head), _md_row("---" for _ in head), *(_md_row(r) for r in rows)]


def render_markdown(summary: Mapping[str, Any], *,
                    policies: Mapping[str, str] | None = None) -> str:
    """``report.md``: provenance, the account's figures, and per role what changes and why."""
    ctx = _context_md(summary)
    window, sources, totals = ctx["window"], ctx["sources"], ctx["totals"]
    out = [f"# rightsizer report: {_plural(totals['roles'], 'ECS role')}", ""]
    out.append(f"- **Tool** {md_text(ctx['tool_version'])}, **catalog** "
               f"{md_text(ctx['catalog_version'])}, **mapping** "
               f"{md_text(ctx['mapping_version'])}, **as of** {md_text(ctx['as_of'])}")
    days = window["days"]
    line = (f"- **Window** {md_text(window['start'] or '?')} to {md_text(window['end'] or '?')}"
            + (f" ({days:g} days)" if days is not None else ""))
    if window["short"]:
        line += (f": **shorter than the {window['min_days']:g} days asked for**; rarely used "
                 "permissions may look unused")
    out.append(line)
    out.append("- **Sources** logs " + (", ".join(md_code(x) for x in sources["logs"]) or "none")
               + f"; IAM {md_code(sources['iam'] or '?')}; ECS {md_code(sources['ecs'] or '?')}"
               + "; trails " + (", ".join(md_code(x) for x in sources["trails"]) or "none")
               + f"; settings {md_code(sources['settings'] or '?')}")
    ingest = ctx["ingest"]
    read = (f"{_n(ingest['files_ingested'])} of {_n(ingest['files_seen'])} files read, "
            f"{_n(ingest['events'])} new events ({_n(ingest['duplicates'])} duplicates), "
            f"{_n(len(ingest['bad']))} unreadable inputs; " if ingest else "")
    out.append(f"- **Read** {read}{_n(ctx['events_in_window'])} events in the window")
    if ingest and ingest["athena"]:
        out.append(f"- **Athena** {_n(len(ingest['athena']))} usage queries, "
                   f"{_n(ingest['athena_bytes'])} bytes scanned, "
                   f"{ingest['athena_cost']:.4f} USD; task sessions of roles read through "
                   "Athena are the largest day's (a lower bound)")
    for trail in ctx["trails"]:
        out.append(f"- **Trail** {md_text(trail['name'])}: management events "
                   f"{trail['management']}; data events "
                   + (", ".join(md_text(d) for d in trail["data"]) or "none")
                   + ("; excluded " + ", ".join(md_text(e) for e in trail["excluded"])
                      if trail["excluded"] else "")
                   + ("; notes: " + "; ".join(md_text(n) for n in trail["notes"])
                      if trail["notes"] else ""))
    if sources["trails_assumed"]:
        out += ["", "> **Warning: the trail settings are assumed, not read.** No `--trail` file "
                "or `[[trails]]` setting was given, so rightsizer assumed a trail with all "
                "management events and no data events. If the real trails record less, actions "
                "judged unused may have been used unseen."]
    out += ["", *[f"> {md_text(limit)}" for limit in ctx["trail_limits"]]]

    out += ["", "## Account summary", ""]
    severities = ", ".join(f"{n} {md_text(s)}" for s, n in ctx["severity_counts"]) or "none"
    out += _md_table(
        ("roles", "granted", "used", "unused", "kept unseen", "after the proposals", "removed",
         "findings"),
        [(_n(totals["roles"]), _n(totals["granted"]), _n(totals["used"]), _n(totals["unused"]),
          _n(totals["kept"]), _n(totals["after"]),
          f"{_n(totals['removed'])} ({totals['removed_pct']})", severities)])
    if ctx["kept_reasons"]:
        out += ["", f"Not observable, so kept: {_n(totals['unobservable'])} "
                "(" + "; ".join(f"{n} {TIMES} {md_text(r)}" for r, n in ctx["kept_reasons"]) + ")."]
    out += ["", *_md_table(
        ("role", "kinds", "granted", "used", "unused", "kept", "proposed", "removed",
         "worst finding", "proof"),
        [(md_text(v["name"]), md_text(", ".join(v["kinds"])), _n(v["counts"].granted),
          _n(v["counts"].used), _n(v["counts"].unused), _n(v["counts"].kept),
          _n(v["counts"].proposed) if v["counts"].has_proposal else "no proposal",
          v["removed_pct"], md_text(v["worst"] or "none"), md_text(v["replay_status"]))
         for v in ctx["roles"]])]

    for view in ctx["roles"]:
        c: RoleCounts = view["counts"]
        out += ["", f"## {md_text(view['name'])}", "", f"{md_code(view['arn'])}", ""]
        out.append(f"- **Kinds** {md_text(', '.join(view['kinds']) or 'none')}; task definitions "
                   + (", ".join(md_code(t) for t in view["task_definitions"]) or "none"))
        out.append(f"- **Counts** granted {_n(c.granted)}, used {_n(c.used)}, unused "
                   f"{_n(c.unused)}, kept unseen {_n(c.kept)}, proposed "
                   + (_n(c.proposed) if c.has_proposal else "none (no proposal)"))
        if view["unused_levels"]:
            out.append("- **Removed, by access level** " + "; ".join(
                f"{label} {_n(n)} (" + ", ".join(md_code(a) for a in actions[:5])
                + (", …" if n > 5 else "") + ")"
                for label, n, actions in view["unused_levels"]))
        if view["denied"]:
            out.append("- **Refused (reported, never added)** " + ", ".join(
                f"{md_code(r['action'])} {TIMES}{_n(r['denied_calls'])}" for r in view["denied"]))
        out.append("- **Replay** " + md_text(" ".join(view["replay"])))
        for note in view["notes"]:
            out.append(f"- **Note** {md_text(note)}")
        links = []
        if view["policy_link"]:
            policy = _policy((policies or {}).get(view["name"]))
            size = (f" ({_plural(policy['statements'], 'statement')}"
                    + (f" in {policy['documents']} documents" if policy["documents"] != 1
                       else "") + ")") if policy and policy["valid"] else ""
            links.append(f"[policy.json]({view['policy_link']}){size}")
        if view["diff_link"]:
            links.append(f"[diff.md]({view['diff_link']})")
        if links:
            out.append("- **Files** " + ", ".join(links))
        if view["findings"]:
            out += ["", *_md_table(("severity", "code", "message"), [
                (md_text(f.get("severity", "")), md_code(f.get("code", "")),
                 md_text(f.get("message", ""))) for f in view["findings"]])]
    return "\n".join(out) + "\n"


def _context_md(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The HTML context without charts, policies or diffs (the Markdown needs none of them)."""
    return _base(summary, [_role_view(i, role, None, None)
                           for i, role in enumerate(_roles(summary), start=1)])


# --- CSV --------------------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A spreadsheet would run a cell starting with ``=``, ``+``, ``-`` or ``@`` as a formula
    (CSV injection): such cells get a leading apostrophe, which spreadsheets show as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def render_findings_csv(summary: Mapping[str, Any]) -> str:
    """``findings.csv``: role, arn, severity, code, message; worst first, then role, then code."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(("role", "arn", "severity", "code", "message"))
    for role, finding in _all_findings(summary):
        writer.writerow([_cell(x) for x in (role.get("name"), role.get("arn"),
                                            finding.get("severity"), finding.get("code"),
                                            finding.get("message"))])
    return buf.getvalue()


# --- files ------------------------------------------------------------------------------------


def _read_role_files(out: Path, summary: Mapping[str, Any]) -> tuple[dict[str, str],
                                                                     dict[str, str]]:
    policies: dict[str, str] = {}
    diffs: dict[str, str] = {}
    root = out.resolve()
    for role in _roles(summary):
        path = role.get("policy_path")
        if not path:
            continue
        policy = (out / str(path)).resolve()
        if not policy.is_relative_to(root):  # a summary never points outside its folder
            continue
        name = str(role.get("name", ""))
        for target, file in ((policies, policy), (diffs, policy.with_name("diff.md"))):
            # A missing file is said so in the report; the other files still render.
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
                target[name] = file.read_text(encoding="utf-8")
    return policies, diffs


def _write_atomic(path: Path, text: str) -> None:
    """A reader (or a crash) never sees half a report: write beside it, then replace."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    tmp.replace(path)


def write_reports(out: Path, summary: Mapping[str, Any]) -> tuple[Path, ...]:
    """Render ``OUT/report.html``, ``OUT/report.md`` and ``OUT/findings.csv`` from ``summary``
    (reading each role's ``policy.json`` and ``diff.md`` where ``policy_path`` is set); returns
    the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    policies, diffs = _read_role_files(out, summary)
    files = {
        out / "report.html": render_html(summary, policies=policies, diffs=diffs),
        out / "report.md": render_markdown(summary, policies=policies),
        out / "findings.csv": render_findings_csv(summary),
    }
    for path, text in files.items():
        _write_atomic(path, text)
    return tuple(files)
