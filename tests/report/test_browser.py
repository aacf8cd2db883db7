"""The report in a real browser: headless Chromium finds its console errors and prints it to PDF.

Chromium is a system package, not a Python one. CI runs ``.ci/run``, which installs it, with the
``CI`` variable set: there a missing Chromium fails these tests. On a machine without it and
without ``CI`` they skip, saying how to get it. The pages are local files and Chromium is kept
off the network (see rightsizer/report/pdf.py), so nothing here needs network access.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from rightsizer.errors import ConfigError
from rightsizer.report.pdf import (
    BrowserError,
    BrowserMissing,
    find_chromium,
    print_pdf,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample"

# One page object per printed page; "/Type /Pages" is the page tree, hence [^s].
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page[^s]")

_BROKEN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>broken</title></head>
<body>
<p>A report that does three things a report must not do.</p>
<script>console.error("deliberate console error", 42);</script>
<img src="https://example.invalid/x.png" alt="remote image">
<script>throw new Error("deliberate uncaught failure");</script>
</body></html>
"""

# Self-contained: inline style, inline script that only logs, an image as a data: URL.
_CLEAN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clean</title>
<style>body { font-family: sans-serif; } h1 { color: #234; }</style></head>
<body>
<h1>Clean</h1>
<img alt="dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==">
<script>console.log("nothing wrong here"); document.title = "clean, scripted";</script>
</body></html>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    return page


def console_errors(page: Path, *, chromium: str) -> list[str]:
    """The errors the page logs while print_pdf prints it."""
    errors: list[str] = []
    print_pdf(page, page.with_suffix(".pdf"), chromium=chromium, on_page_error=errors.append)
    return errors


def test_console_errors_reports_exception_console_error_and_remote_fetch(
    chromium: str, tmp_path: Path
) -> None:
    errors = console_errors(_write(tmp_path, "broken.html", _BROKEN_HTML), chromium=chromium)

    assert len(errors) == 3, errors
    assert "the report fetched https://example.invalid/x.png" in errors
    assert any(
        e.startswith("console.error:") and "deliberate console error 42" in e for e in errors
    ), errors
    assert any(
        e.startswith("uncaught Error: deliberate uncaught failure") and "broken.html:7" in e
        for e in errors
    ), errors


def test_console_errors_of_a_clean_self_contained_page_is_empty(
    chromium: str, tmp_path: Path
) -> None:
    assert console_errors(_write(tmp_path, "clean.html", _CLEAN_HTML), chromium=chromium) == []


def test_console_errors_reports_a_local_file_that_does_not_load(
    chromium: str, tmp_path: Path
) -> None:
    page = _write(tmp_path, "missing.html", '<!doctype html><img src="chart.png" alt="chart">')

    errors = console_errors(page, chromium=chromium)

    assert errors == [
        f"failed to load {(tmp_path / 'chart.png').as_uri()}: net::ERR_FILE_NOT_FOUND"
    ]


def test_real_report_is_clean_in_the_browser_and_prints_to_a_multipage_pdf(
    chromium: str, tmp_path: Path
) -> None:
    # Imported here so the rest of this file runs even while the renderer is being written.
    from rightsizer.report.render import write_reports

    out = tmp_path / "out"
    out.mkdir()
    # The renderer reads each role's policy.json and diff.md from out/roles, as `run` leaves them.
    shutil.copytree(GOLDEN / "roles", out / "roles")
    summary = json.loads((GOLDEN / "summary.json").read_text(encoding="utf-8"))
    write_reports(out, summary)
    report = out / "report.html"

    assert console_errors(report, chromium=chromium) == []

    pdf = print_pdf(report, tmp_path / "report.pdf", chromium=chromium)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 10 * 1024
    assert len(_PAGE_OBJECT.findall(data)) > 1


def test_print_pdf_writes_a_pdf_and_creates_the_folder(chromium: str, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "clean.pdf"

    assert print_pdf(_write(tmp_path, "clean.html", _CLEAN_HTML), target, chromium=chromium) == (
        target
    )
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(_PAGE_OBJECT.findall(data)) == 1
    assert not list(target.parent.glob("*.partial"))


def test_a_page_that_never_loads_times_out_with_an_error_naming_it(
    chromium: str, tmp_path: Path
) -> None:
    page = _write(tmp_path, "hang.html", "<!doctype html><script>while (true) {}</script>")

    with pytest.raises(BrowserError, match=r"hang\.html.*within 3 s"):
        print_pdf(page, tmp_path / "hang.pdf", chromium=chromium, timeout=3)
    assert not (tmp_path / "hang.pdf").exists()


def test_print_pdf_of_a_missing_file_names_it(chromium: str, tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match=r"nowhere\.html"):
        print_pdf(tmp_path / "nowhere.html", tmp_path / "x.pdf", chromium=chromium)


def test_find_chromium_prefers_the_environment_variable(
    chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGHTSIZER_CHROMIUM", chromium)

    assert find_chromium() == shutil.which(chromium)


def test_without_chromium_print_pdf_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGHTSIZER_CHROMIUM", str(tmp_path / "no-such-chrome"))
    monkeypatch.setenv("PATH", "")
    page = _write(tmp_path, "clean.html", _CLEAN_HTML)

    assert find_chromium() is None
    with pytest.raises(BrowserMissing) as raised:
        print_pdf(page, tmp_path / "clean.pdf")
    message = str(raised.value)
    assert "apt-get install chromium" in message
    assert "brew install --cask chromium" in message
    assert "RIGHTSIZER_CHROMIUM=/path/to/chrome" in message
    assert "no-such-chrome" in message
    # A configuration problem: the CLI maps it to exit code 2.
    assert isinstance(raised.value, ConfigError)
    assert not (tmp_path / "clean.pdf").exists()


# Every word of every table header cell (and of the roles table, whose cells are short words),
# laid out: a word whose pieces sit on two lines was broken inside it ("grant|ed", "executi|on").
_BROKEN_HEADER_WORDS = """(() => {
  const broken = [];
  for (const th of document.querySelectorAll("th, table.roles td, table.findings td code")) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      // A hyphen may end a line, and a finding code may wrap at an underscore.
      for (const m of node.data.matchAll(/[^\\s_-]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
})()"""


def test_no_table_header_breaks_inside_a_word_on_paper(chromium: str, tmp_path: Path) -> None:
    # The sample report as printed: print media, the A4 text width (180 mm at 96 dpi).
    from rightsizer.report.pdf import _Browser
    from rightsizer.report.render import write_reports

    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(GOLDEN / "roles", out / "roles")
    write_reports(out, json.loads((GOLDEN / "summary.json").read_text(encoding="utf-8")))
    report = out / "report.html"
    with _Browser(chromium, timeout=60, what=report) as browser:
        page = browser.open_page()
        browser.call("Emulation.setDeviceMetricsOverride", {
            "width": 680, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            session=page)
        browser.call("Emulation.setEmulatedMedia", {"media": "print"}, session=page)
        browser.load(page, report)
        result = browser.call("Runtime.evaluate", {
            "expression": _BROKEN_HEADER_WORDS, "returnByValue": True}, session=page)
    assert result["result"]["value"] == []


def test_printing_warns_of_each_page_error_by_default(
    chromium: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = _write(tmp_path, "broken.html", _BROKEN_HTML)
    with caplog.at_level("WARNING", logger="rightsizer.report.pdf"):
        print_pdf(page, tmp_path / "broken.pdf", chromium=chromium)
    warned = [r.getMessage() for r in caplog.records]
    assert f"{page}: the report fetched https://example.invalid/x.png" in warned
    assert len(warned) == 3
