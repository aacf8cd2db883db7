"""Evidence sufficiency, end to end: a role whose regions, days or activity the logs do not cover
gets no proposal and a finding that says what is missing (issue 11, cases 1 and 2).

The rule: when the evidence does not prove a permission unused, it is kept; when there is no
evidence, nothing is proposed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import rightsizer
from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
IAM = str(SAMPLE / "iam/authorization-details.json")
ECS = str(SAMPLE / "ecs/task-definitions.json")
TRAIL = str(SAMPLE / "trail/event-selectors.json")
TODAY = date(2026, 12, 4)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("evidence") / "sample.duckdb"
    code, _, err = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db),
                          "--workers", "1")
    assert code == 0, err
    return db


@pytest.fixture(scope="module")
def us_only_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with only us-east-1's logs read: eu-west-1 and ap-southeast-2 never were."""
    db = tmp_path_factory.mktemp("us-only") / "sample.duckdb"
    code, _, err = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db),
                          "--log-region", "us-east-1", "--workers", "1")
    assert code == 0, err
    return db


def _roles(out: Path) -> dict[str, dict]:
    summary = json.loads((out / "summary.json").read_text())
    return {role["name"]: role for role in summary["roles"]}


def _codes(role: dict) -> set[str]:
    return {f["code"] for f in role["findings"]}


def test_a_window_without_events_proposes_nothing_and_exits_non_zero(store: Path,
                                                                     tmp_path: Path) -> None:
    """Case 1: a scheduled job whose log feed stopped. 0 events in the window must not read as
    "nothing was used": no role is judged, no policy is written, and the exit code says so."""
    out = tmp_path / "out"
    code, stdout, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store),
                               "--out", str(out), "--trail", TRAIL,
                               "--since", "2026-11-05", "--until", "2026-12-03")
    assert code == 4, (stdout, err)
    assert "no role could be judged" in err
    roles = _roles(out)
    assert len(roles) == 11
    for name, role in roles.items():
        assert role["policy_path"] is None, name
        assert role["proposed_actions"] == [], name
        assert role["unused_actions"] == [], name  # nothing is called unused without evidence
        assert "INSUFFICIENT_EVIDENCE" in _codes(role), name
        finding = next(f for f in role["findings"] if f["code"] == "INSUFFICIENT_EVIDENCE")
        assert finding["severity"] == "high"
        assert "no logs" in finding["message"] or "no sign" in finding["message"]
    assert not (out / "roles").exists() or not any((out / "roles").rglob("policy.json"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evidence"]["roles_judged"] == 0
    assert summary["evidence"]["roles_not_judged"] == 11


def test_a_region_never_read_keeps_every_grant_of_the_roles_that_run_there(
        us_only_store: Path, tmp_path: Path) -> None:
    """Case 2: ingest-eu-task runs only in eu-west-1; with eu-west-1 never read, it was cut 97%
    with 0 calls seen. Now it gets no proposal and a finding naming the region."""
    out = tmp_path / "out"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(us_only_store),
                          "--out", str(out), "--trail", TRAIL)
    assert code == 0, err  # the us-east-1 roles are still judged
    roles = _roles(out)
    for name in ("ingest-eu-task", "ingest-eu-execution", "notifier-task",
                 "notifier-execution"):
        role = roles[name]
        assert role["policy_path"] is None, name
        assert role["unused_actions"] == [], name
        assert not (out / "roles" / name / "policy.json").exists()
        finding = next(f for f in role["findings"] if f["code"] == "INSUFFICIENT_EVIDENCE")
        region = "eu-west-1" if name.startswith("ingest") else "ap-southeast-2"
        assert region in finding["message"] and "883921282152" in finding["message"]
        insufficient = [v for v in role["verdicts"] if v["verdict"] == "insufficient_evidence"]
        assert insufficient and all(region in v["reason"] for v in insufficient)
        assert role["evidence_sufficiency"]["sufficient"] is False
    # The roles of the region that was read are still rightsized.
    for name in ("orders-api-task", "payments-worker-task", "reports-batch-task"):
        assert roles[name]["policy_path"], name
        assert roles[name]["evidence_sufficiency"]["sufficient"] is True
    summary = json.loads((out / "summary.json").read_text())
    read = {(c["account"], c["region"]) for c in summary["evidence"]["coverage"]}
    assert ("883921282152", "us-east-1") in read
    assert ("883921282152", "eu-west-1") not in read


def test_the_full_sample_judges_every_role_that_ran_with_a_confidence(store: Path,
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store),
                          "--out", str(out), "--trail", TRAIL)
    assert code == 0, err
    roles = _roles(out)
    for name, role in roles.items():
        sufficiency = role["evidence_sufficiency"]
        assert sufficiency["confidence"] in ("high", "medium", "low"), name
        assert sufficiency["window_days"] == 35, name
        if sufficiency["sufficient"]:
            assert role["policy_path"], name
            assert {(f["account"], f["region"]) for f in sufficiency["footprint"]}
    # orders-api-task ran every day in us-east-1, in many task sessions.
    orders = roles["orders-api-task"]["evidence_sufficiency"]
    assert orders["confidence"] == "high"
    assert {(f["account"], f["region"]) for f in orders["footprint"]} == {
        ("883921282152", "us-east-1")}
    # notifier-task-legacy is named by an old task definition and never ran: not judged.
    legacy = roles["notifier-task-legacy"]
    assert legacy["policy_path"] is None
    assert "ROLE_NOT_SEEN" in _codes(legacy)


def test_the_library_says_which_roles_were_judged(us_only_store: Path, tmp_path: Path) -> None:
    result = rightsizer.run(logs=[], iam=IAM, ecs=ECS, out=tmp_path / "o", db=us_only_store,
                            trail_files=[TRAIL], today=TODAY,
                            since=datetime(2026, 9, 27), until=datetime(2026, 10, 31))
    judged = {r.role.name for r in result.roles if r.sufficiency.sufficient}
    assert "orders-api-task" in judged and "ingest-eu-task" not in judged
    eu = next(r for r in result.roles if r.role.name == "ingest-eu-task")
    assert eu.proposal is None
    assert all(v.verdict != "unused" for v in eu.verdicts)


# -- trail coverage known, not assumed (case 6) ---------------------------------------------------


def test_without_trail_settings_the_logs_say_what_was_recorded(store: Path,
                                                               tmp_path: Path) -> None:
    """Case 6: without --trail, rightsizer assumed 'no data events' although the logs it had
    read held the roles' data events; now it infers what was recorded from them."""
    out = tmp_path / "out"
    code, stdout, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store),
                               "--out", str(out))
    assert code == 0, err
    assert "trails: inferred from the logs" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sources"]["trails_origin"] == "inferred"
    (trail,) = summary["trails"]
    assert {"AWS::S3::Object", "AWS::SQS::Queue", "AWS::DynamoDB::Table"} <= set(
        trail["data_resource_types"])
    roles = _roles(out)
    notifier = {v["action"]: v for v in roles["notifier-task"]["verdicts"]}
    # Its queue's data events are in the logs, reads and writes: SendMessage, granted on that
    # queue and never called, is unused, not "not observable".
    assert "sqs:SendMessage" in roles["notifier-task"]["unused_actions"]
    assert "sqs:SendMessage" not in notifier
    # An action granted beyond what the logs show recorded (a table's indexes, every bucket)
    # stays kept: the logs cannot prove it unused there.
    orders = {k["action"] for k in roles["orders-api-task"]["kept_unobservable"]}
    assert "dynamodb:BatchGetItem" in orders
    assert "inferred from the logs" in (out / "report.md").read_text()


def test_trail_settings_the_logs_contradict_are_a_warning(store: Path, tmp_path: Path) -> None:
    trail = tmp_path / "selectors.json"
    trail.write_text(json.dumps({"TrailARN": "arn:aws:cloudtrail:us-east-1:883921282152:trail/"
                                 "mgmt-only", "EventSelectors": [
                                     {"ReadWriteType": "All", "IncludeManagementEvents": True,
                                      "DataResources": []}]}))
    out = tmp_path / "out"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                          str(out), "--trail", str(trail))
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sources"]["trails_origin"] == "given"
    warnings = summary["trail_warnings"]
    assert any("AWS::S3::Object" in w and "mgmt-only" in w for w in warnings), warnings
    assert "AWS::S3::Object" in err  # logged as a warning too
    assert "Trail settings contradicted by the logs" in (out / "report.html").read_text()


def test_trail_aws_reads_the_trails_live(store: Path, tmp_path: Path, moto_server: str) -> None:
    """--trail aws: DescribeTrails and GetEventSelectors through moto's server over HTTP."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="evidence-trail-bucket")
    cloudtrail = boto3.client("cloudtrail", endpoint_url=moto_server, region_name="us-east-1")
    cloudtrail.create_trail(Name="evidence-live", S3BucketName="evidence-trail-bucket",
                            IsMultiRegionTrail=True)
    cloudtrail.put_event_selectors(TrailName="evidence-live", EventSelectors=[{
        "ReadWriteType": "All", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                          {"Type": "AWS::SQS::Queue", "Values": ["arn:aws:sqs"]}]}])
    out = tmp_path / "out"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--db", str(store), "--out",
                          str(out), "--trail", "aws", "--endpoint-url", moto_server,
                          "--region", "us-east-1")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sources"]["trails_origin"] == "live"
    names = {t["name"] for t in summary["trails"]}
    assert "evidence-live" in names
    live = next(t for t in summary["trails"] if t["name"] == "evidence-live")
    assert live["data_resource_types"] == ["AWS::S3::Object", "AWS::SQS::Queue"]
