"""Runs compared over time, and applied proposals watched (issue 15): three scheduled runs over
the sample with a change between each. Run 1 proposes; its proposal for orders-api-task is then
applied; after it the role is refused an action the proposal removed. Run 2 says the role is
rightsized since run 1 and raises REGRESSION_AFTER_RIGHTSIZING with the statement that restores
the permission, which the evaluator confirms; run 3 sees one more refusal."""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import rightsizer
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy

SAMPLE = Path(__file__).resolve().parents[1] / "sample_logs"
ROLE = "orders-api-task"


def _template(logs: Path) -> dict[str, Any]:
    """A DynamoDB GetItem the role made: the shape of the calls it will be refused."""
    for path in sorted(logs.rglob("*.json.gz")):
        if "CloudTrail-Digest" in path.parts:
            continue
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            issuer = record["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {})
            if issuer.get("arn", "").endswith(f"/{ROLE}") and record["eventName"] == "GetItem":
                return record
    raise AssertionError("no GetItem of the role in the sample")


def _refused(logs: Path, template: dict[str, Any], name: str, when: datetime) -> None:
    record = dict(template, eventName=name, eventTime=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  eventID=str(uuid.uuid4()), errorCode="AccessDeniedException",
                  errorMessage=f"not authorized to perform: dynamodb:{name}")
    account, region = record["recipientAccountId"], record["awsRegion"]
    folder = (logs / "AWSLogs" / "o-2gwjitpafm" / account / "CloudTrail" / region
              / f"{when:%Y/%m/%d}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{name}.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [record]}).encode()))


def _apply(iam: Path, proposal: dict[str, Any]) -> Path:
    """The IAM data once the role's proposal replaced its policies."""
    details = json.loads(iam.read_text())
    for role in details["RoleDetailList"]:
        if role["RoleName"] == ROLE:
            role["RolePolicyList"] = [{"PolicyName": f"rightsizer-{ROLE}",
                                       "PolicyDocument": proposal}]
            role["AttachedManagedPolicies"] = []
    applied = iam.with_name("applied.json")
    applied.write_text(json.dumps(details))
    return applied


def _run(work: Path, n: int, iam: Path, until: date, today: date) -> dict[str, Any]:
    result = rightsizer.run(
        logs=[str(work / "cloudtrail")], iam=iam, ecs=work / "ecs" / "task-definitions.json",
        out=work / f"out{n}", db=work / "store.duckdb",
        trail_files=[work / "trail" / "event-selectors.json"],
        since=datetime(2026, 9, 27), until=datetime(until.year, until.month, until.day),
        today=today, workers=1)
    return json.loads((result.out / "summary.json").read_text())


def _role(summary: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in summary["roles"] if r["name"] == ROLE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    work = tmp_path_factory.mktemp("history")
    shutil.copytree(SAMPLE, work, dirs_exist_ok=True)
    logs, iam = work / "cloudtrail", work / "iam" / "authorization-details.json"
    template = _template(logs)
    first = _run(work, 1, iam, date(2026, 10, 31), date(2026, 11, 1))
    proposal = json.loads((work / "out1" / _role(first)["policy_path"]).read_text())
    applied = _apply(iam, proposal)
    _refused(logs, template, "DeleteItem", datetime(2026, 11, 2, 9, 30))
    second = _run(work, 2, applied, date(2026, 11, 2), date(2026, 11, 3))
    _refused(logs, template, "BatchWriteItem", datetime(2026, 11, 4, 9, 30))
    third = _run(work, 3, applied, date(2026, 11, 4), date(2026, 11, 5))
    reports = {n: (work / f"out{n}" / "report.md").read_text() for n in (1, 2, 3)}
    html = (work / "out3" / "report.html").read_text()
    return [first, second, third, {"proposal": proposal, "template": template,
                                   "reports": reports, "html": html}]


def test_the_first_run_has_nothing_to_compare_with(runs: list[dict[str, Any]]) -> None:
    assert "since_last_run" not in runs[0]
    assert _role(runs[0])["rightsized_since"] is None


def test_an_applied_proposal_shows_the_role_rightsized_since_its_run(
        runs: list[dict[str, Any]]) -> None:
    since = _role(runs[1])["rightsized_since"]
    assert since is not None and since["as_of"] == "2026-11-01"
    others = [r for r in runs[1]["roles"] if r["name"] != ROLE]
    assert all(r["rightsized_since"] is None for r in others)


def test_a_refusal_after_rightsizing_is_a_regression_with_a_checked_restore(
        runs: list[dict[str, Any]]) -> None:
    role = _role(runs[1])
    (regression,) = role["regressions"]
    assert regression["action"] == "dynamodb:DeleteItem" and regression["verified"]
    assert regression["first_seen"] == "2026-11-02"
    finding = next(f for f in role["findings"] if f["code"] == "REGRESSION_AFTER_RIGHTSIZING")
    assert finding["severity"] == "high" and "dynamodb:DeleteItem" in finding["message"]
    # The evaluator, independently: refused under the applied policy, allowed with the restore.
    applied = parse_policy(runs[3]["proposal"], name="applied")
    restore = parse_policy({"Version": "2012-10-17", "Statement": [regression["statement"]]},
                           name="restore")
    for resource in regression["resources"]:
        request = Request("dynamodb:DeleteItem", resource)
        assert not evaluate(request, [applied]).allowed
        assert evaluate(request, [applied, restore]).allowed
    assert all(r.startswith("arn:aws:dynamodb:") for r in regression["resources"])


def test_each_run_says_what_changed_since_the_last(runs: list[dict[str, Any]]) -> None:
    second, third = runs[1]["since_last_run"], runs[2]["since_last_run"]
    changed = {r["name"]: r for r in second["roles"]}
    assert changed[ROLE]["granted"][0] > changed[ROLE]["granted"][1]  # the proposal applied
    assert "dynamodb:DeleteItem" in changed[ROLE]["new_denied"]
    assert "REGRESSION_AFTER_RIGHTSIZING" in changed[ROLE]["new_findings"]
    assert {r["name"]: r for r in third["roles"]}[ROLE]["new_denied"] == [
        "dynamodb:BatchWriteItem"]
    assert [t["as_of"] for t in third["totals"]] == ["2026-11-01", "2026-11-03", "2026-11-05"]
    assert third["totals"][1]["granted"] < third["totals"][0]["granted"]
    assert second["roles_added"] == second["roles_gone"] == []


def test_the_reports_show_the_history(runs: list[dict[str, Any]]) -> None:
    reports, html = runs[3]["reports"], runs[3]["html"]
    assert "Since the last run" not in reports[1]
    assert "## Since the last run (2026-11-01)" in reports[2]
    assert "**Regression after rightsizing** `dynamodb:DeleteItem`" in reports[2]
    assert "**Rightsized** since the run of 2026-11-01" in reports[2]
    assert "## Since the last run (2026-11-03)" in reports[3]
    assert 'id="chart-runs_over_time"' in html and "Since the last run (2026-11-03)" in html
