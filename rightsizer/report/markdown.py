"""report.md (table cells escaped, so that data never breaks a row) and findings.csv."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rightsizer.report.charts import RoleCounts
from rightsizer.report.common import (
    TIMES,
    _all_findings,
    _n,
    _roles,
)
from rightsizer.report.html import (
    _base,
    _policy,
    _role_view,
)
from rightsizer.text import escape_controls, plural

# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#!~])")


def md_text(value: object) -> str:
    """Text safe in Markdown and in a table cell: no markup, no HTML, one line, pipes escaped."""
    text = " ".join(str(value).split())  # newlines (and tabs) would end the table row
    text = escape_controls(text)  # and an ESC sequence would act on a terminal that shows it
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_code(value: object) -> str:
    """A code span that survives any content: a fence longer than the longest backtick run,
    and pipes escaped (GitHub splits table cells on pipes even inside code). Text with HTML
    characters is not put in code (where ``&lt;`` would show as such) but escaped as text:
    a report must not carry raw markup, whatever renders it."""
    text = escape_controls(" ".join(str(value).split())).replace("|", "\\|")
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
    out = [f"# rightsizer report: {plural(totals['roles'], 'ECS role')}", ""]
    out.append(f"- **Tool** {md_text(ctx['tool_version'])}, **catalog** "
               f"{md_text(ctx['catalog_version'])}, **mapping** "
               f"{md_text(ctx['mapping_version'])}, **as of** {md_text(ctx['as_of'])}")
    line = f"- **Window** {md_text(window['text'])}"
    if window["short"]:
        line += (f": **{window['days']:g} days, shorter than the {window['min_days']:g} days "
                 "asked for**; rarely used permissions may look unused")
    out.append(line)
    out.append("- **Sources** logs " + (", ".join(md_code(x) for x in sources["logs"]) or "none")
               + f"; IAM {md_code(sources['iam'] or '?')}; ECS {md_code(sources['ecs'] or '?')}"
               + "; trails " + (", ".join(md_code(x) for x in sources["trails"]) or "none")
               + f"; settings {md_code(sources['settings'] or '?')}")
    ingest = ctx["ingest"]
    read = (f"{_n(ingest['files_ingested'])} of {_n(ingest['files_seen'])} files read, "
            f"{_n(ingest['events'])} new events ({_n(ingest['duplicates'])} duplicates"
            + (f", {_n(ingest['conflicting'])} of them an eventID repeated with other contents"
               if ingest["conflicting"] else "") + "), "
            f"{_n(len(ingest['bad']))} unreadable inputs; " if ingest else "")
    out.append(f"- **Read** {read}in all, {md_text(ctx['analysis_input'])}")
    integrity = ctx["integrity"]
    out.append("- **Log integrity** " + (f"**{md_text(integrity['line'])}**: the roles that "
                                         "run where these files come from get no proposal"
                                         if integrity["failed"] else md_text(integrity["line"])))
    for f in integrity["files"]:
        out.append(f"  - {md_code(f.get('path', ''))}: {md_text(str(f.get('status', '')))}, "
                   f"{md_text(str(f.get('reason', '')))}")
    if integrity["more"]:
        out.append(f"  - and {_n(integrity['more'])} more in summary.json (integrity.files)")
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
        out += ["", "> **Warning: the trail settings are inferred from the logs, not read.** No "
                "`--trail` file or `--trail aws`, `[[trails]]` setting or `PutEventSelectors` "
                "call in the logs was found, so rightsizer assumed all management events, and "
                "data events only where the logs hold some. If the real trails record less, "
                "actions judged unused may have been used unseen."]
    for warning in ctx["trail_warnings"]:
        out += ["", f"> **Warning: trail settings contradicted by the logs.** {md_text(warning)}."]
    for change in ctx["trail_changes"]:
        out += ["", f"> **Trail change** {md_text(change['time'])}: {md_code(change['event'])} "
                f"on {md_code(change['trail'])}: {md_text(change['meaning'])}"]
    out += ["", *[f"> {md_text(limit)}" for limit in ctx["trail_limits"]]]
    coverage = ctx["coverage"]
    places = "; ".join(
        f"{md_text(p['region'] if p['region'] != '*' else 'every region (Athena)')} "
        f"({md_text(p['account'])}) {_n(p['days'])} days" for p in coverage["places"])
    out += ["", "- **Logs cover** " + (places or "**nothing in the window**")]
    if coverage["judged"] == 0 and ctx["roles"]:
        out += ["", "> **Warning: no role could be judged.** The logs read hold no evidence for "
                "any ECS role: nothing is proposed, every grant is kept."]
    elif coverage["not_judged"]:
        out += ["", f"> **{_n(coverage['not_judged'])} of {_n(len(ctx['roles']))} roles could "
                "not be judged**: their grants are all kept, and each says what is missing."]

    organization = ctx["organization"]
    if organization:
        out += ["", "## Organization", "",
                f"{plural(len(organization['accounts']), 'account')} in this run; each role is "
                "named ACCOUNT/ROLE, and its files are under accounts/ACCOUNT/roles/ROLE.", "",
                *_md_table(("account", "roles", "judged", "granted", "used", "after the proposals",
                            "removed", "findings"),
                           [(md_code(a["account"]), _n(a["roles"]), _n(a["judged"]),
                             _n(a["granted"]), _n(a["used"]), _n(a["proposed"]),
                             a["removed_pct"], md_text(a["findings"]))
                            for a in organization["accounts"]])]
        if organization["worst"]:
            out += ["", "The worst findings across the organization:", "",
                    *_md_table(("severity", "role", "code", "message"),
                               [(md_text(f["severity"]), md_text(f["role"]), md_code(f["code"]),
                                 md_text(f["message"])) for f in organization["worst"]])]

    out += ["", "## All accounts" if organization else "## Account summary", ""]
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

    if ctx["compliance"]:
        out += ["", "## Compliance references", "",
                "The controls this report bears on, and the findings that bear on each; a "
                "mapping is listed only where its source supports it.", "",
                *_md_table(("control", "what it asks", "findings", "source"),
                           [(md_text(c["label"]), md_text(c["title"]), md_text(c["findings"]),
                             md_text(c["source"])) for c in ctx["compliance"]])]
    since = ctx["since_last_run"]
    if since:
        out += ["", f"## Since the last run ({md_text(since['previous'])})", ""]
        if since["moved"]:
            out.append(f"- **The account** {md_text(since['moved'])}")
        if since["added"] or since["gone"]:
            out.append(f"- **Roles** added: {md_text(', '.join(since['added']) or 'none')}; "
                       f"gone: {md_text(', '.join(since['gone']) or 'none')}")
        if since["rows"]:
            out += ["", *_md_table(
                ("role", "granted", "newly used", "no longer used", "newly refused",
                 "new findings", "resolved findings"),
                [tuple(md_text(r[k]) for k in ("name", "granted", "newly_used", "no_longer_used",
                                               "new_denied", "new_findings",
                                               "resolved_findings")) for r in since["rows"]])]
        else:
            out.append("- No role changed.")

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
        for failure in view["failures"]:
            fix = (f"fix{' (checked)' if failure['checked'] else ''}: "
                   f"{md_text(failure['fix'])}"
                   + (f" {md_code(failure['statement'])}" if failure["statement"] else "")
                   if failure["fix"] else f"no fix: {md_text(failure['no_fix'])}")
            out.append(f"- **Why it failed** {md_code(failure['action'])} on "
                       f"{md_code(failure['resource'])} ({md_text(failure['seen'])}): "
                       f"{md_text(failure['code'])}, {md_text(failure['cause'])}; {fix}")
        for change in view["changes"]:
            out.append(f"- **Changed** {md_text(change['time'])} by {md_code(change['actor'])}: "
                       f"{md_code(change['change'])} {md_text(change['what'])}; "
                       f"**{md_text(change['widened'])}**: {md_text(change['why'])}")
        if view["rightsized_since"]:
            out.append(f"- **Rightsized** since the run of "
                       f"{md_text(view['rightsized_since']['as_of'])}: what it is granted lies "
                       "within that run's proposal")
        for g in view["regressions"]:
            out.append(f"- **Regression after rightsizing** {md_code(g['action'])} refused "
                       f"{_n(g['calls'])} {'time' if g['calls'] == 1 else 'times'} from "
                       f"{md_text(g['first_seen'])}; to restore it"
                       + (" (checked)" if g["verified"] else "") + ": "
                       + md_code(json.dumps(g["statement"])))
        evidence = view["sufficiency"]
        if evidence and evidence["sufficient"]:
            out.append(f"- **How sure** {md_text(evidence['confidence'])}: "
                       + md_text(" ".join(evidence["how_sure"])))
        elif evidence:
            out.append("- **Evidence** not enough to remove anything, every grant kept: "
                       + md_text("; ".join(evidence["missing"])))
        generalized = view["generalized"]
        if generalized:
            out.append("- **Generalized** " + "; ".join(
                f"{md_code(g['pattern'])} ({md_text(g['rule'])}, from "
                f"{plural(int(g['observed']), 'resource')})" for g in generalized[:5])
                + (f"; and {_n(len(generalized) - 5)} more in diff.md" if len(generalized) > 5
                   else ""))
        out.append("- **Replay** " + md_text(" ".join(view["replay"])))
        for note in view["notes"]:
            out.append(f"- **Note** {md_text(note)}")
        links = []
        if view["policy_link"]:
            policy = _policy((policies or {}).get(view["name"]))
            size = (f" ({plural(policy['statements'], 'statement')}"
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
    (CSV injection): such cells get a leading apostrophe, which spreadsheets show as text.
    Control characters are escaped (``cat findings.csv`` must not clear the terminal)."""
    text = "" if value is None else escape_controls(str(value))  # one line, nothing that acts
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


