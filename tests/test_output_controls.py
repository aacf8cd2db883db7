"""Issue 12, case 11: control characters that CloudTrail carries (an ESC sequence that clears a
terminal, an OSC that retitles it, a BEL, a line break) never reach a human-facing output raw:
not report.md, report.html, findings.csv, diff.md, the terminal or the text log. Each shows
what the string held, escaped (``\\x1b``). Machine outputs (JSON) keep it exact: their encoder
escapes it."""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rightsizer.cli import main
from rightsizer.cli_output import _TextFormatter
from rightsizer.proposal.render import _md
from rightsizer.report.html import _without_controls
from rightsizer.report.markdown import _cell, md_code, md_text
from rightsizer.text import escape_controls

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
ESC = "\x1b[2J\x1b]0;pwned\x07"
# Any raw C0 control but tab and line feed, DEL, C1, and the bidirectional overrides.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(("render", "value", "shown"), [
    (md_text, f"Get{ESC}Item", "Get\\\\x1b\\[2J\\\\x1b\\]0;pwned\\\\x07Item"),
    (md_code, f"a{ESC}", "`a\\x1b[2J\\x1b]0;pwned\\x07`"),
    (_cell, f"x{ESC}\ny", "x\\x1b[2J\\x1b]0;pwned\\x07\\x0ay"),
    (_md, "line\u202eevil", "line\\u202eevil"),
    (_without_controls, f"<pre>{{\n\t}}{ESC}", "<pre>{\n\t}\\x1b[2J\\x1b]0;pwned\\x07"),
])
def test_each_renderer_escapes_controls(render: object, value: str, shown: str) -> None:
    out = render(value)  # type: ignore[operator]
    assert out == shown
    assert not RAW.search(out)


def test_a_log_message_is_one_line_whatever_it_holds() -> None:
    record = logging.LogRecord("rightsizer.pipeline", logging.ERROR, __file__, 1,
                               "%s: cannot read", (f"logs/a{ESC}\n2026 ERROR forged",), None)
    line = _TextFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "\n" not in line and not RAW.search(line)
    assert line == ("ERROR rightsizer.pipeline: logs/a\\x1b[2J\\x1b]0;pwned\\x07\\x0a2026 ERROR "
                    "forged: cannot read")


def _hostile_sample(tmp_path: Path) -> Path:
    """sample_logs/ plus one delivery of calls by orders-api-task whose event names, error
    message, table name and resource ARN hold control characters."""
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE, copy)
    folder = (copy / "cloudtrail/AWSLogs/o-2gwjitpafm/883921282152/CloudTrail/us-east-1/2026/10"
              / "20")
    identity = {
        "type": "AssumedRole",
        "principalId": "AROA5TWQAZCC3O2H7FK6K:8739715f7a8ab37c0849649702aa9f45",
        "arn": ("arn:aws:sts::883921282152:assumed-role/orders-api-task/"
                "8739715f7a8ab37c0849649702aa9f45"),
        "accountId": "883921282152",
        "sessionContext": {"sessionIssuer": {
            "type": "Role", "principalId": "AROA5TWQAZCC3O2H7FK6K",
            "arn": "arn:aws:iam::883921282152:role/ecs/orders-api-task",
            "accountId": "883921282152", "userName": "orders-api-task"}}}

    def record(n: int, **fields: object) -> dict:
        return {"eventVersion": "1.09", "userIdentity": identity,
                "eventTime": f"2026-10-20T10:{n:02d}:00Z", "eventSource": "dynamodb.amazonaws.com",
                "eventName": "GetItem", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
                "userAgent": f"sdk{ESC}", "requestParameters": {"tableName": "orders"},
                "eventID": f"00000000-0000-4000-8000-{n:012d}", "readOnly": True,
                "eventType": "AwsApiCall", "managementEvent": False,
                "recipientAccountId": "883921282152", "eventCategory": "Data", **fields}

    records = [
        record(1, eventName=f"Get{ESC}Item"),
        record(2, eventName="PutItem", errorCode="AccessDenied",
               errorMessage=f"not authorized {ESC}\n| forged | row |"),
        record(3, requestParameters={"tableName": f"orders{ESC}\nX"},
               resources=[{"accountId": "883921282152", "type": "AWS::DynamoDB::Table",
                           "ARN": f"arn:aws:dynamodb:us-east-1:883921282152:table/orders{ESC}"}]),
        record(4, eventSource=f"evil{ESC}.amazonaws.com", eventName="Do"),
    ]
    path = folder / "883921282152_CloudTrail_us-east-1_20261020T1100Z_hostile0000000001.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return copy


def test_no_raw_control_character_reaches_a_person(tmp_path: Path) -> None:
    sample = _hostile_sample(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(sample / "cloudtrail"),
        "--iam", str(sample / "iam/authorization-details.json"),
        "--ecs", str(sample / "ecs/task-definitions.json"),
        "--trail", str(sample / "trail/event-selectors.json"),
        "--out", str(out), "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    assert not RAW.search(result.stdout) and not RAW.search(result.stderr)
    human = [out / "report.md", out / "report.html", out / "findings.csv",
             *out.glob("roles/*/diff.md"), *out.glob("roles/*/policy.tf"),
             *out.glob("roles/*/policy.cfn.yaml")]
    for path in human:
        text = path.read_text()
        assert not RAW.search(text), (path, RAW.search(text))
    # The reader still sees what the strings held: the unmapped event, escaped.
    assert "Get\\\\x1b\\[2J" in (out / "report.md").read_text()
    assert "Get\\x1b[2J\\x1b]0;pwned\\x07Item" in (out / "findings.csv").read_text()
    # A line break in a finding never starts a row of its own.
    assert not any(line.startswith("| forged") for line in
                   (out / "report.md").read_text().splitlines())
    # The machine output keeps the exact string.
    summary = json.loads((out / "summary.json").read_text())
    messages = [f["message"] for r in summary["roles"] for f in r["findings"]]
    assert any(f"Get{ESC}Item" in m for m in messages)


def test_escape_controls_keeps_printable_text_and_escapes_the_rest() -> None:
    text = "naïve café ☃ \u00a0 日本"
    assert escape_controls(text) == text
    assert escape_controls("a\x00b\x7fc\x9bd") == "a\\x00b\\x7fc\\x9bd"
    assert escape_controls("a\nb\tc", keep="\n") == "a\nb\\x09c"
