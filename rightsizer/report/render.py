"""The reports of an output folder, rendered from ``summary.json`` alone (plus the per-role
``policy.json`` and ``diff.md`` the run wrote beside it).

Why from the summary and not from live objects: ``summary.json`` is the contract (docs/run.md,
"Output"), so ``rightsizer report OUT`` can render a folder written by an earlier run, and the
reports can never say something the machine-readable result does not.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rightsizer.report.charts import role_label
from rightsizer.report.common import (
    _roles,
)
from rightsizer.report.html import render_html
from rightsizer.report.markdown import render_findings_csv, render_markdown

__all__ = [
    "render_findings_csv",
    "render_html",
    "render_markdown",
    "write_reports",
]

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
        name = role_label(role)
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

