"""report.html: one self-contained page (Jinja2, autoescaped), and the small Markdown subset that
renders ``diff.md`` inside it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from rightsizer.report import charts
from rightsizer.report.charts import RoleCounts, role_counts, role_label
from rightsizer.report.common import (
    DASH,
    KEPT_VERDICTS,
    TOP_RESOURCES,
    VERDICT_LABELS,
    VERDICT_ORDER,
    _all_findings,
    _compliance,
    _coverage,
    _findings,
    _ingest,
    _integrity,
    _kept_reasons,
    _level_counts,
    _n,
    _organization,
    _pct,
    _policy_link,
    _replay,
    _roles,
    _severity_counts,
    _since_last_run,
    _sufficiency,
    _trail_limits,
    _trail_lines,
    _ts,
    _unused_groups,
    _window,
    _worst,
)
from rightsizer.text import escape_controls, plural

# --- HTML -----------------------------------------------------------------------------------


def _without_controls(value: Any) -> Any:
    """Every value a template prints, with its control characters escaped (CloudTrail's strings
    are chosen by whoever made the call): line breaks and tabs stay, as HTML shows them as
    spaces outside ``<pre>``, where they are the policy's own layout."""
    if isinstance(value, Markup):
        return Markup(escape_controls(str(value), keep="\n\t"))
    if isinstance(value, str):
        return escape_controls(value, keep="\n\t")
    return value


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rightsizer.report", "templates"),
        autoescape=True,  # every template, whatever its name: data is escaped, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_without_controls,
    )
    env.filters["n"] = _n
    env.filters["ts"] = _ts
    env.filters["g"] = lambda x: DASH if x is None else f"{float(x):g}"
    env.filters["breakable"] = _breakable
    return env


def _breakable(value: Any) -> Markup:
    """A finding code that may wrap at its underscores only, never inside a word
    (``DECLARED_NEED_GRANTED_ELSEWHE|RE`` in a narrow column)."""
    return Markup("_<wbr>").join(escape(part) for part in str(value).split("_"))


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
        # summary.json lists the most-called resources, of resource_count (older: all).
        "more_resources": max(int(verdict.get("resource_count") or len(resources))
                              - TOP_RESOURCES, 0),
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
    name = role_label(role)
    counts = role_counts(role)
    rows = sorted((_verdict_row(v) for v in role.get("verdicts") or ()
                   if v.get("verdict") != "unused"), key=_verdict_rank)
    kept = [{"action": str(k.get("action", "")), "label": label, "reason": str(k.get("reason", "")),
             "resources": [str(x) for x in k.get("resources") or ()]}
            for key, label in (("kept_used_per_iam", "IAM saw it used"),
                               ("kept_unobservable", "not observable"),
                               ("kept_required", "a task definition needs it"),
                               ("kept_excluded", "excluded by configuration"),
                               ("kept_insufficient_evidence", "the logs cannot prove it unused"),
                               ("kept_unmapped", "unmapped calls of its service"))
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
        "removed_pct": _pct(counts.removed, counts.granted) if counts.has_proposal else DASH,
        "sufficiency": _sufficiency(role),
        "rightsized_since": role.get("rightsized_since"),
        "regressions": list(role.get("regressions") or ()),
        "generalized": [dict(g) for g in role.get("generalized") or ()],
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
        "failures": [_failure_view(f) for f in role.get("failures") or ()],
        "changes": [_change_view(c) for c in role.get("changes") or ()],
    }


def _analysis_input(summary: Mapping[str, Any]) -> str:
    """"the analysis used 2,006 events in the window, from 116 files stored by 1 run"."""
    used = summary.get("analysis_input") or {}
    events = int(used.get("events", summary.get("events_in_window") or 0))
    text = f"the analysis used {plural(events, 'event')} in the window"
    if used.get("files"):
        text += (f", from {plural(int(used['files']), 'file')} stored by "
                 f"{plural(int(used.get('ingest_runs', 0)), 'run')}")
    return text


def _failure_view(failure: Mapping[str, Any]) -> dict[str, Any]:
    """One row of "Why it failed": what, how often, the cause, and the fix or why none."""
    fix = failure.get("fix") or None
    cause = failure.get("cause") or {}
    count = int(failure.get("count") or 0)
    stopped = int(failure.get("stopped_tasks") or 0)
    seen = (f"{count:,} refused" if count else "predicted") + (
        f", {stopped:,} stopped task{'s' if stopped != 1 else ''}" if stopped else "")
    return {
        "action": str(failure.get("action") or cause.get("code", "")),
        "resource": str(failure.get("resource") or ""),
        "seen": seen,
        "last_seen": str(failure.get("last_seen") or "")[:10],
        "code": str(cause.get("code", "")),
        "cause": str(cause.get("sentence", "")),
        "denied_by": [str(d) for d in failure.get("denied_by") or ()],
        "fix": str(fix.get("change", "")) if fix else None,
        "statement": (_compact_json(fix["statement"]) if fix and fix.get("statement")
                      else None),
        "checked": bool(fix.get("verified")) if fix else False,
        "no_fix": str(failure.get("no_fix") or ""),
    }


def _change_view(change: Mapping[str, Any]) -> dict[str, Any]:
    widened = change.get("widened")
    return {
        "time": str(change.get("time", ""))[:16].replace("T", " "),
        "actor": str(change.get("actor", "")),
        "change": str(change.get("change", "")),
        "what": str(change.get("what", "")),
        "widened": "widened" if widened is True else "narrowed" if widened is False
                   else "cannot tell",
        "flag": widened is True,
        "why": str(change.get("why", "")),
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
        "integrity": _integrity(summary),
        "since_last_run": _since_last_run(summary),
        "compliance": _compliance(summary),
        "organization": _organization(summary),
        "events_in_window": summary.get("events_in_window"),
        "analysis_input": _analysis_input(summary),
        "trails": [_trail_lines(t) for t in summary.get("trails") or ()],
        "trail_limits": _trail_limits(summary),
        "coverage": _coverage(summary),
        "trail_warnings": [str(w) for w in summary.get("trail_warnings") or ()],
        "trail_changes": [dict(c) for c in summary.get("trail_changes") or ()],
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
        "findings": [{"role": role_label(r), "anchor": anchors.get(id(r), ""),
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
            *([_chart("runs_over_time", summary, "Permissions granted, and after the "
                      "proposals, over the runs the store kept.")]
              if summary.get("since_last_run") else []),
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


# diff.md's first line under "Removed": "58 actions by access level: write 20; read 38."
_REMOVED_LINE = re.compile(r"^(?P<count>[\d,]+ actions?) by access level: (?P<levels>.*)\.$")


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
        elif title == "Removed" and any(_REMOVED_LINE.match(line) for line in body):
            found = next(m for m in map(_REMOVED_LINE.match, body) if m)
            parts.append(f"## {title}\n\n{found['count']} removed ({found['levels']}): each "
                         "with the reason in `diff.md`.")
        elif title in ("Removed", "Kept"):
            rows = _table_rows(body)
            what = "removed" if title == "Removed" else "kept"
            parts.append(f"## {title}\n\n" + (f"{plural(rows, 'action')} {what}: each with the "
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


