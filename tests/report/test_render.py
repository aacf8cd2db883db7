"""report.html, report.md and findings.csv, rendered from the golden sample's summary.json and
role files (read, never written): complete, self-contained, escaped, well formed, deterministic,
and written atomically.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from rightsizer.report import common, render
from rightsizer.report import html as html_report
from rightsizer.report import markdown as markdown_report
from rightsizer.report.render import (
    render_findings_csv,
    render_html,
    render_markdown,
    write_reports,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample"
# A role whose every grant went unused, while its logs were read and ECS assumed it: the proposal
# is an empty policy (kept from an earlier golden run, when the sample had such a role).
EMPTY = Path(__file__).resolve().parents[1] / "data" / "report" / "empty-proposal"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
SECTIONS = ("Where these findings come from", "What the trails could see", "Account summary",
            "What could not be observed", "Findings by severity", "How to read this report")
ROLE_SECTIONS = ("Why it is an ECS role", "Findings", "Verdicts with evidence",
                 "Unused: proposed for removal", "The proof", "Proposed policy")


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return json.loads((GOLDEN / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def role_files(summary: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    policies, diffs = {}, {}
    for role in summary["roles"]:
        if role["policy_path"]:
            policy = GOLDEN / role["policy_path"]
            policies[role["name"]] = policy.read_text(encoding="utf-8")
            diffs[role["name"]] = policy.with_name("diff.md").read_text(encoding="utf-8")
    return policies, diffs


@pytest.fixture(scope="module")
def html(summary: dict[str, Any], role_files: tuple[dict[str, str], dict[str, str]]) -> str:
    policies, diffs = role_files
    return render_html(summary, policies=policies, diffs=diffs)


def _inject(summary: dict[str, Any]) -> dict[str, Any]:
    """The golden summary with markup where CloudTrail, IAM and task definitions put text."""
    hostile = copy.deepcopy(summary)
    role = next(r for r in hostile["roles"] if r["name"] == "ingest-eu-task")
    used = next(v for v in role["verdicts"] if v["verdict"] == "used")
    used["resources"].insert(0, {"arn": f"arn:aws:s3:::bucket/{SCRIPT}{IMG}", "calls": 10_000})
    role["task_definitions"].append(f"arn:aws:ecs:eu-west-1:1:task-definition/{SCRIPT}{IMG}:1")
    role["findings"].append({"code": "DENIED_ATTEMPTS", "severity": "low",
                             "message": f"refused | with `tick` {SCRIPT}\n{IMG} =1+1"})
    role["kept_unobservable"][0]["reason"] += f" {SCRIPT}"
    role["evidence"].append(f"user agent {IMG}")
    role["notes"].append(f"note {SCRIPT}")
    hostile["trails"][0]["name"] = f"trail {SCRIPT}{IMG}"
    hostile["trails"][0]["notes"] = [f"selector {IMG}"]
    hostile["ingest"]["bad_inputs"] = [{"path": f"s3://b/{SCRIPT}", "reason": IMG}]
    hostile["problems"] = [{"input": f"task definition {SCRIPT}", "reason": IMG}]
    return hostile


@pytest.fixture(scope="module")
def hostile(summary: dict[str, Any]) -> dict[str, Any]:
    return _inject(summary)


@pytest.fixture(scope="module")
def hostile_html(hostile: dict[str, Any],
                 role_files: tuple[dict[str, str], dict[str, str]]) -> str:
    policies, diffs = role_files
    policies = {**policies, "ingest-eu-task": json.dumps({"Statement": [{"Sid": SCRIPT}]})}
    diffs = {**diffs, "ingest-eu-task": f"# t\n\n## Apply it\n\n{SCRIPT} `{IMG}` "
                                         f"![x](http://evil.example/x.png)\n\n| a | {SCRIPT} |"}
    return render_html(hostile, policies=policies, diffs=diffs)


# --- HTML: content ------------------------------------------------------------------------------


def test_html_has_every_role_and_every_section(html: str, summary: dict) -> None:
    for section in SECTIONS:
        assert section in html
    assert html.count('<section class="role"') == len(summary["roles"])
    for role in summary["roles"]:
        assert f">{role['name']} <span class=\"arn mono\">{role['arn']}</span></h2>" in html
    for i, role in enumerate(summary["roles"], start=1):
        section = _role_section(html, i)
        for heading in ROLE_SECTIONS:
            assert f"<h3>{heading}</h3>" in section, (role["name"], heading)


def _role_section(html: str, which: int | str) -> str:
    """A role's section, by its place in the report (1-based) or by its name."""
    if isinstance(which, str):
        heading = html.index(f'">{which} <span class="arn mono">')
        start = html.rindex('<section class="role"', 0, heading)
    else:
        start = html.index(f'<section class="role" id="role-{which}"')
    return html[start:html.index("</section>", start)]


def test_roles_are_listed_worst_first_then_by_what_is_removed(summary: dict) -> None:
    # A compliance reviewer reads the critical role first (issue 14), not the 9th of 11.
    from rightsizer.report.charts import role_counts
    from rightsizer.report.common import _severity_rank, _worst

    keys = [(_severity_rank(_worst(r) or "none"), -role_counts(r).removed)
            for r in summary["roles"]]
    assert keys == sorted(keys)
    assert summary["roles"][0]["name"] == "reports-batch-task"  # its finding is critical


def test_roles_appear_in_summary_order(html: str, summary: dict) -> None:
    positions = [html.index(f'id="h-role-{i}">{r["name"]} ')
                 for i, r in enumerate(summary["roles"], start=1)]
    assert positions == sorted(positions)


def test_provenance_comes_first(html: str, summary: dict) -> None:
    first = html[:html.index('id="h-summary"')]
    for value in (summary["tool_version"], summary["catalog_version"],
                  summary["mapping_version"], summary["as_of"],
                  "2026-09-27 to 2026-10-31 (35 days, UTC; from 00:17 on the first day to 18:30 "
                  "on the last)", "at least 30 days asked for",
                  "sample_logs/cloudtrail", "file sample_logs/iam/authorization-details.json",
                  "file sample_logs/ecs/task-definitions.json",
                  "file sample_logs/trail/event-selectors.json", "org-trail",
                  "116 of 118 files read", "2,006 new events stored", "8 duplicates dropped",
                  "2,006 events in the window", "AWS::SSMMessages::ControlChannel",
                  "CloudTrail digest file"):
        assert value in first, value


def test_account_summary_has_the_totals(html: str, summary: dict) -> None:
    granted = sum(len(r["granted_actions"]) for r in summary["roles"])
    # A role without a proposal keeps what it has.
    proposed = sum(len(r["proposed_actions"] if r["policy_path"] else r["granted_actions"])
                   for r in summary["roles"])
    used = sum(len(r["used_actions"]) for r in summary["roles"])
    part = html[html.index('id="h-summary"'):html.index('id="chart-')]
    for figure in (f"{granted:,}", f"{proposed:,}", f"{used:,}",
                   f"{100 * (granted - proposed) / granted:.0f}%"):
        assert f'<span class="v">{figure}</span>' in part
    unobservable = sum(len(r["kept_unobservable"]) for r in summary["roles"])
    assert f"{unobservable} granted permissions could not" in part
    assert "8 \u00d7 a data event (AWS::DynamoDB::Stream) and no trail records it" in part
    assert '<span class="sev sev-critical">critical</span> 1' in part
    medium = sum(f["severity"] == "medium" for r in summary["roles"] for f in r["findings"])
    assert medium >= 3 and f'<span class="sev sev-medium">medium</span> {medium}' in part


def test_html_has_the_four_charts_with_captions_and_alt_text(html: str) -> None:
    figures = re.findall(r"<figure id=\"chart-(\w+)\">(.*?)</figure>", html, re.S)
    assert [kind for kind, _ in figures] == ["reduction", "granted_used_proposed",
                                              "unused_by_access_level", "daily_activity"]
    for _, body in figures:
        label = re.search(r'<div class="chart" role="img" aria-label="([^"]+)"><svg', body)
        assert label and re.search(r"\d", label.group(1))
        assert "<figcaption>" in body and label.group(1) in body
    assert "orders-api-task: 264 granted, 9 used, 11 proposed" in html


def test_verdict_table_shows_the_evidence(html: str) -> None:
    section = _role_section(html, "ingest-eu-task")
    assert "<code>dynamodb:PutItem</code>" in section
    assert "2026-09-28 02:52<br>2026-10-30 18:27" in section
    assert "arn:aws:dynamodb:eu-west-1:883921282152:table/ingest-batches</code> (35)" in section
    assert "and 91 more" in section  # s3:PutObject touched 96 objects: 5 shown
    assert "kept: not observable" in section
    # Unused actions are not verdict rows but a compact list, by service and access level.
    table = section[section.index("Verdicts with evidence"):section.index("Kept without")]
    assert "dynamodb:DeleteTable" not in table
    unused = section[section.index("Unused: proposed for removal"):]
    assert "<code>dynamodb</code></td><td class=\"num\">76</td>" in unused
    assert "permissions management (" in unused and "DeleteTable" in unused


def test_denied_attempts_and_kept_actions_are_listed(html: str) -> None:
    section = _role_section(html, "notifier-task")
    assert "<h3>Refused attempts</h3>" not in section  # "Why it failed" says it, with the cause
    failed = section[section.index("<h3>Why it failed</h3>"):section.index("<h3>Who changed")]
    assert "<code>ec2:DescribeInstances</code>" in failed and "2 refused" in failed
    assert "<strong>NOT_NEEDED</strong>" in failed and "<em>none</em>: no grant" in failed
    changed = section[section.index("<h3>Who changed it</h3>"):]
    assert "<code>DetachRolePolicy</code>" in changed and "alice@acme.example" in changed
    kept = _role_section(html, "ingest-eu-task")
    assert "<h3>Kept without being seen</h3>" in kept
    assert "does not select AWS::DynamoDB::Stream data events" in kept


def test_the_replay_proof_in_plain_words(html: str) -> None:
    orders = _role_section(html, "orders-api-task")
    assert ("Every one of the 402 calls the role made in the window is still allowed by the "
            "proposal.") in orders
    execution = _role_section(html, "ecsTaskExecutionRole")  # declared needs replayed too
    assert ("Every one of the 176 calls the role made in the window is still allowed by the "
            "proposal.") in execution
    legacy = _role_section(html, "notifier-task-legacy")  # never ran: no proposal
    assert "No proposal was made" in legacy and "nothing was replayed" in legacy


def test_calls_granted_elsewhere_are_said_apart(summary: dict[str, Any]) -> None:
    changed = copy.deepcopy(summary)
    role = next(r for r in changed["roles"] if r["name"] == "ecsTaskExecutionRole")
    role["replay"].update(calls=166, allowed=166, granted_elsewhere=10)
    section = _role_section(render_html(changed), "ecsTaskExecutionRole")
    assert ("Every one of the 166 calls the role made in the window that its own policies "
            "allowed is still allowed by the proposal.") in section
    assert "10 more calls succeeded through something other than" in section


@pytest.fixture(scope="module")
def empty_html(summary: dict[str, Any]) -> str:
    """The sample with one more role: all unused, proposed an empty policy."""
    role = json.loads((EMPTY / "role.json").read_text(encoding="utf-8"))
    role["policy_path"] = "roles/all-unused/policy.json"
    role["name"] = "all-unused"
    changed = copy.deepcopy(summary)
    changed["roles"] = [role]
    return render_html(changed,
                       policies={"all-unused": (EMPTY / "policy.json").read_text("utf-8")},
                       diffs={"all-unused": (EMPTY / "diff.md").read_text("utf-8")})


def test_an_empty_proposal_has_nothing_to_replay_and_says_how_to_apply_it(
        empty_html: str) -> None:
    section = _role_section(empty_html, 1)
    assert "nothing to replay" in section
    assert "IAM refuses (MalformedPolicyDocument)" in section  # diff.md explains what to do


def test_policy_and_diff_are_shown(html: str, role_files: tuple) -> None:
    section = _role_section(html, "ecsTaskExecutionRole")
    assert "9 statements, from <a href=\"roles/ecsTaskExecutionRole/policy.json\">" in section
    assert "&#34;Sid&#34;: &#34;Ecr2&#34;" in section  # the policy, escaped in a <pre>
    assert ("58 actions removed (permissions management 4; write 37; tagging 2; read 8; list "
            "7): each with the reason in <code>diff.md</code>.") in section
    assert "<h5>Apply it</h5>" in section
    assert "aws iam attach-role-policy --role-name ecsTaskExecutionRole" in section


def test_glossary_explains_every_verdict(html: str) -> None:
    glossary = html[html.index('id="glossary"'):]
    for label in common.VERDICT_LABELS.values():
        assert f"<dt>{label}</dt>" in glossary


# --- HTML: self-contained and escaped -----------------------------------------------------------


@pytest.mark.parametrize("page", ["html", "hostile_html"])
def test_html_is_self_contained(page: str, request: pytest.FixtureRequest) -> None:
    text = request.getfixturevalue(page)
    lowered = text.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import",
                      "xlink:href", 'href="http', "href='http"):
        assert forbidden not in lowered, forbidden
    for tag in re.findall(r"<[a-zA-Z][^>]*>", text):  # every real tag (data has no raw "<")
        assert not re.search(r"\s(src|on\w+)\s*=", tag, re.IGNORECASE), tag
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", text))
    for href in re.findall(r'href="([^"]*)"', text):
        assert href.startswith(("#", "roles/")), href
    assert text.startswith("<!DOCTYPE html>")


def test_injected_markup_is_escaped_everywhere(hostile_html: str) -> None:
    assert "<script>alert" not in hostile_html
    assert "<img src=x" not in hostile_html
    assert hostile_html.count(SCRIPT_ESCAPED) >= 8  # ARN, task definition, finding, trail, ...
    assert IMG_ESCAPED in hostile_html
    assert "refused | with `tick`" in hostile_html  # a finding message shows as it is
    assert f"trail {SCRIPT_ESCAPED}" in hostile_html
    assert "![x](http://evil.example/x.png)" in hostile_html  # diff.md images stay text


def test_short_window_and_inferred_trails_are_flagged(summary: dict) -> None:
    assert "Trail settings inferred from the logs" not in render_html(_minimal(summary))
    changed = _minimal(summary)
    changed["sources"]["trails_assumed"] = True
    changed["window"]["days"] = 12.5
    page = render_html(changed)
    assert "<strong>Trail settings inferred from the logs, not read.</strong>" in page
    assert "12.5 days, shorter than the 30 days asked for" in page
    markdown = render_markdown(changed)
    assert "Warning: the trail settings are inferred from the logs, not read." in markdown
    assert "**12.5 days, shorter than the 30 days asked for**" in markdown


def test_trail_changes_and_contradictions_are_shown(summary: dict) -> None:
    changed = _minimal(summary)
    changed["trail_warnings"] = ["the logs hold 12 data events of AWS::S3::Object, which ..."]
    changed["trail_changes"] = [{"time": "2026-10-20T08:00:00Z", "event": "StopLogging",
                                 "trail": "org-trail", "meaning": "stopped the trail's logging"}]
    page = render_html(changed)
    assert "Trail settings contradicted by the logs" in page and "12 data events" in page
    assert "<code>StopLogging</code> on <code>org-trail</code>" in page
    markdown = render_markdown(changed)
    assert "**Trail change** 2026-10-20T08:00:00Z: `StopLogging`" in markdown


def _minimal(summary: dict[str, Any]) -> dict[str, Any]:
    """The golden provenance with two roles: enough for the page, quick to draw."""
    small = copy.deepcopy(summary)
    small["roles"] = small["roles"][:2]
    return small


def _role(summary: dict[str, Any], **changes: Any) -> dict[str, Any]:
    small = copy.deepcopy(summary)
    small["roles"] = [{**small["roles"][0], **changes}]
    return small


def test_a_role_without_proposal_says_why_and_counts_as_unchanged(summary: dict) -> None:
    broken = _role(summary, policy_path=None, replay=None, proposed_actions=[],
                   notes=["the role is not in the IAM data: no proposal"])
    page = render_html(broken)
    assert ("No proposal was made (the role is not in the IAM data: no proposal): nothing was "
            "replayed, and the role keeps its current policies.") in page
    assert "1 role has no proposal and counts as unchanged." in page
    assert 'href="roles/' not in page
    assert "proposed none (no proposal)" in render_markdown(broken)


def test_a_failed_proof_is_reported(summary: dict) -> None:
    replay = {"calls": 10, "allowed": 7, "conditional": 0, "failed": 3, "granted_elsewhere": 0,
              "unknown_resource": 2, "failures": ["s3:PutObject on arn:aws:s3:::b/k (eu-west-1)"],
              "unused_allowed": [], "broader": [], "passed": False}
    failed = _role(summary, policy_path=None, replay=replay, proposed_actions=[])
    page = render_html(failed)
    assert ("The proof failed: 3 of the 10 replayed calls would be denied by the proposal "
            "(first: s3:PutObject on arn:aws:s3:::b/k (eu-west-1)).") in page
    assert "2 more calls named no resource" in page
    assert "1 proposal failed the replay proof and was not written." in page


def test_an_empty_summary_renders_in_every_format() -> None:
    empty: dict[str, Any] = {"schema_version": 1, "roles": []}
    assert "Least-privilege report for 0 ECS roles" in render_html(empty)
    assert render_markdown(empty).startswith("# rightsizer report: 0 ECS roles")
    assert render_findings_csv(empty) == "role,arn,severity,code,message\n"


# --- Markdown -----------------------------------------------------------------------------------


def _tables(markdown: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in markdown.split("\n"):
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return [*tables, current] if current else tables


def _columns(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip())) - 2  # the outer pipes


@pytest.mark.parametrize("which", ["golden", "hostile"])
def test_markdown_tables_keep_their_columns(which: str, summary: dict, hostile: dict) -> None:
    markdown = render_markdown(summary if which == "golden" else hostile)
    tables = _tables(markdown)
    assert len(tables) >= 2
    for table in tables:
        widths = {_columns(row) for row in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|( --- \|)+", table[1])


def test_markdown_escapes_injected_markup(hostile: dict) -> None:
    markdown = render_markdown(hostile)
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "refused \\| with \\`tick\\`" in markdown


def test_markdown_has_provenance_summary_and_each_role(summary: dict, role_files: tuple) -> None:
    markdown = render_markdown(summary, policies=role_files[0])
    assert "- **Tool** 0.2.0, **catalog** 0.1.202610271" in markdown
    assert ("- **Window** 2026-09-27 to 2026-10-31 (35 days, UTC; from 00:17 on the first day to "
            "18:30 on the last)") in markdown
    assert "- **Trail** org-trail: management events read and write" in markdown
    for role in summary["roles"]:
        assert f"\n## {markdown_report.md_text(role['name'])}\n" in markdown
    assert ("- **Replay** Every one of the 402 calls the role made in the window is still "
            "allowed by the proposal.") in markdown
    assert ("- **Files** [policy.json](roles/orders-api-task/policy.json) (8 statements), "
            "[diff.md](roles/orders-api-task/diff.md)") in markdown
    assert "- **Removed, by access level** permissions management 30 (" in markdown
    assert "| **critical** |" not in markdown  # severities are words in cells, not markup
    assert "| critical | `ADMIN_LIKE_GRANT` |" in markdown


@pytest.mark.parametrize(("value", "expected"), [
    ("a|b", "a\\|b"),
    ("line\nbreak", "line break"),
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ("`code`", "\\`code\\`"),
    ("*_[]#!~", "\\*\\_\\[\\]\\#\\!\\~"),
    ("a & b", "a &amp; b"),
])
def test_md_text(value: str, expected: str) -> None:
    assert markdown_report.md_text(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("s3:GetObject", "`s3:GetObject`"),
    ("a`b", "``a`b``"),
    ("`x", "`` `x ``"),
    ("a|b", "`a\\|b`"),
    ("", ""),
    ("a<b>", "a&lt;b&gt;"),  # no raw markup, even in code
])
def test_md_code(value: str, expected: str) -> None:
    assert markdown_report.md_code(value) == expected


# --- the Markdown subset for diff.md -----------------------------------------------------------


def test_markdown_html_escapes_and_supports_the_diff_subset() -> None:
    out = str(html_report.markdown_html(
        "# Title\n\nText with `code` and **bold** and a\\_b <i>.\n\n"
        "| A | B |\n| --- | --- |\n| x \\| y | `z` |\n\n- one\n- two\n\n```sh\naws <x> & y\n```\n"
        "![img](http://x/y.png) [link](javascript:alert(1))"))
    assert "<h4>Title</h4>" in out
    assert "<p>Text with <code>code</code> and <strong>bold</strong> and a_b &lt;i&gt;.</p>" in out
    assert "<thead><tr><th>A</th><th>B</th></tr></thead>" in out
    assert "<tr><td>x | y</td><td><code>z</code></td></tr>" in out
    assert "<ul><li>one</li><li>two</li></ul>" in out
    assert "<pre><code>aws &lt;x&gt; &amp; y</code></pre>" in out
    assert "<img" not in out and "<a " not in out


# --- CSV ----------------------------------------------------------------------------------------


def test_findings_csv_is_sorted_worst_first(summary: dict) -> None:
    text = render_findings_csv(summary)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["role", "arn", "severity", "code", "message"]
    expected = sorted(
        ([r["name"], r["arn"], f["severity"], f["code"], f["message"]]
         for r in summary["roles"] for f in r["findings"]),
        key=lambda row: (common.SEVERITIES.index(row[2]), row[0], row[1], row[3], row[4]))
    assert rows[1:] == expected
    assert rows[1][2:4] == ["critical", "ADMIN_LIKE_GRANT"]
    assert "\r" not in text and text.endswith("\n")


def test_findings_csv_round_trips_hostile_text(hostile: dict) -> None:
    rows = list(csv.reader(io.StringIO(render_findings_csv(hostile), newline="")))
    messages = [row[4] for row in rows[1:]]
    # Markup and quotes as they are; the line break written as an escape (issue 12, case 11):
    # `cat findings.csv` shows one finding a line.
    assert f"refused | with `tick` {SCRIPT}\\x0a{IMG} =1+1" in messages
    assert all(len(row) == 5 for row in rows)


def test_findings_csv_defuses_spreadsheet_formulas(summary: dict) -> None:
    formula = _role(summary, name="=HYPERLINK(\"http://x\")",
                    findings=[{"code": "X", "severity": "low", "message": "+1"}])
    rows = list(csv.reader(io.StringIO(render_findings_csv(formula))))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"
    assert rows[1][4] == "'+1"


# --- determinism and files ----------------------------------------------------------------------


def test_rendering_is_deterministic(summary: dict, role_files: tuple, html: str) -> None:
    policies, diffs = role_files
    assert render_html(copy.deepcopy(summary), policies=policies, diffs=diffs) == html
    assert render_markdown(summary, policies=policies) == render_markdown(
        copy.deepcopy(summary), policies=policies)
    assert render_findings_csv(summary) == render_findings_csv(copy.deepcopy(summary))


@pytest.fixture
def out(tmp_path: Path, summary: dict) -> Path:
    """An output folder as `rightsizer run` leaves it: summary.json and roles/<name>/."""
    shutil.copytree(GOLDEN / "roles", tmp_path / "roles")
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return tmp_path


def test_write_reports_writes_three_files(out: Path, summary: dict, html: str) -> None:
    written = write_reports(out, summary)
    assert written == (out / "report.html", out / "report.md", out / "findings.csv")
    assert all(path.is_file() for path in written)
    assert (out / "report.html").read_text(encoding="utf-8") == html  # policies and diffs read
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["findings.csv", "report.html", "report.md", "roles", "summary.json"])  # no temp files
    assert (out / "findings.csv").read_text(encoding="utf-8") == render_findings_csv(summary)


def test_write_reports_renders_everything_before_replacing_anything(
        out: Path, summary: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("report.html", "report.md", "findings.csv"):
        (out / name).write_text("old", encoding="utf-8")

    def broken(*_: Any, **__: Any) -> str:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(render, "render_markdown", broken)
    with pytest.raises(RuntimeError):
        write_reports(out, _minimal(summary))
    assert all((out / n).read_text(encoding="utf-8") == "old"
               for n in ("report.html", "report.md", "findings.csv"))


def test_write_reports_never_reads_outside_the_folder(tmp_path: Path, summary: dict) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "policy.json").write_text('{"Statement": "TOP-SECRET"}', encoding="utf-8")
    out = tmp_path / "out"
    escaping = _role(summary, policy_path="../secret/policy.json")
    write_reports(out, escaping)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "TOP-SECRET" not in page
    assert 'href="../' not in page


def test_write_reports_says_when_a_policy_file_is_missing(tmp_path: Path, summary: dict) -> None:
    write_reports(tmp_path, _role(summary))
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "(not found when this report was written)" in page


def test_the_policy_shown_is_the_policy_file(html: str, role_files: tuple) -> None:
    """The <pre> is laid out more compactly than policy.json, but is the same document."""
    section = _role_section(html, "ecsTaskExecutionRole")
    shown = re.search(r"<pre><code>(.*?)</code></pre>", section, re.S)
    assert shown is not None
    policy = json.loads(unescape(shown.group(1)))
    assert policy == json.loads(role_files[0]["ecsTaskExecutionRole"])


def test_an_athena_run_says_what_it_scanned_and_cost(summary: dict[str, Any]) -> None:
    athena = copy.deepcopy(summary)
    athena["ingest"]["athena_queries"] = [{
        "source": "athena://cloudtrail.org_trail", "account": "111122223333",
        "query_id": f"q-{SCRIPT}", "since": "2026-09-27", "until": "2026-11-02", "rows": 612,
        "bytes_scanned": 123_456_789, "cost_usd": 0.00056}]
    athena["ingest"]["athena_bytes_scanned"] = 123_456_789
    athena["ingest"]["athena_cost_usd"] = 0.00056
    page = render_html(athena, policies={}, diffs={})
    assert "123,456,789 bytes scanned in all, 0.0006 USD" in page
    assert "account <code>111122223333</code> 2026-09-27 to 2026-11-02" in page
    assert "a lower bound" in page and SCRIPT not in page and f"q-{SCRIPT_ESCAPED}" in page
    text = render_markdown(athena)
    assert "- **Athena** 1 usage queries, 123,456,789 bytes scanned, 0.0006 USD" in text
    # Without Athena, nothing is said about it.
    assert "Athena" not in render_html(summary, policies={}, diffs={}).split("Account summary")[0]


@pytest.mark.parametrize(("figures", "expected"), [
    # (active days, window days, sessions, calls, confidence)
    ((30, 35, 2, 81, "medium"),
     ["Active on 30 of 35 days in the window (86%), in 2 task sessions, with 81 calls replayed",
      "High would need at least 7 active days and 5 task sessions; this role had 2 task "
      "sessions (not 5)."]),
    ((1, 35, 1, 1, "low"),
     ["Active on 1 of 35 days in the window (3%), in 1 task session, with 1 call replayed",
      "this role had 1 active day (not 3) and 1 task session (not 2)"]),
    ((14, 35, 16, 176, "high"),
     ["High: at least 7 active days and 5 task sessions."]),
])
def test_how_sure_gives_each_roles_own_figures(figures: tuple, expected: list[str]) -> None:
    from rightsizer.report.common import _sufficiency

    days, window, sessions, calls, confidence = figures
    role = {
        "evidence_sufficiency": {"sufficient": True, "confidence": confidence,
                                 "active_days": days, "window_days": window,
                                 "sessions": sessions, "footprint": []},
        "replay": {"calls": calls},
        "generalized": [{"pattern": "arn:aws:s3:::b/*", "observed": 59},
                        {"pattern": "arn:aws:s3:::c/*", "observed": 9}],
        "kept_unobservable": [{"action": "dynamodb:DescribeEndpoints",
                               "reason": "needs no permission: https://docs.aws.amazon.com/x"}],
        "kept_required": [{"action": "logs:CreateLogGroup", "reason": "awslogs-create-group"}],
    }
    text = " ".join(_sufficiency(role)["how_sure"])
    for part in expected:
        assert part in text
    assert "2 resource patterns generalize 68 observed resources (59, 9)" in text
    assert ("2 permissions kept without being seen: 1 \u00d7 needs no permission; 1 \u00d7 the "
            "task definition needs.") in text


@pytest.mark.parametrize(("start", "end", "expected"), [
    # Whole days (--since 2026-10-20 --until 2026-10-31): the end is the next midnight, excluded.
    ("2026-10-20T00:00:00Z", "2026-11-01T00:00:00Z", "2026-10-20 to 2026-10-31 (12 days, UTC)"),
    ("2026-10-31T00:00:00Z", "2026-11-01T00:00:00Z", "2026-10-31 to 2026-10-31 (1 day, UTC)"),
    # The store's first and last events.
    ("2026-09-27T00:17:15Z", "2026-10-31T18:30:50Z",
     "2026-09-27 to 2026-10-31 (35 days, UTC; from 00:17 on the first day to 18:30 on the last)"),
    ("not a time", None, "not a time to ?"),
])
def test_the_window_reads_as_the_days_asked_for(start: str, end: str | None,
                                                expected: str) -> None:
    from rightsizer.report.common import _window

    assert _window({"window": {"start": start, "end": end}})["text"] == expected


def test_every_integrity_status_is_named_in_both_reports(summary: dict) -> None:
    """Each way a log file can fail validation reads as such on the report's first page."""
    changed = _minimal(summary)
    files = [{"path": f"AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/{status}.json.gz",
              "status": status, "reason": f"because {status}"}
             for status in ("modified", "missing", "not_covered", "signature_invalid",
                            "chain_broken")]
    changed["integrity"] = {"counts": {"valid": 3, **{f["status"]: 1 for f in files}},
                            "digests": 9, "digests_verified": 7, "digests_unsigned": 1,
                            "public_keys": 1, "files": files}
    markdown, page = render_markdown(changed), render_html(changed)
    assert ("**Log integrity** **3 valid" not in markdown
            and "1 modified, 1 missing, 1 digest signature invalid, 1 digest chain broken, "
                "1 not covered, 3 valid" in markdown)
    assert "the roles that run where these files come from get no proposal" in markdown
    for f in files:
        assert f["path"] in markdown and f["path"] in page and f["reason"] in page
    assert "<strong>signature invalid</strong>" in page and "<strong>chain broken</strong>" in page
    assert "1 not checked, each the newest of its chain" in markdown
