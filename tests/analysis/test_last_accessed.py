"""IAM's last-accessed data as a second witness (issue 16): it only keeps, never removes more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rightsizer.analysis.last_accessed import witness
from rightsizer.analysis.verdicts import ActionEvidence, Verdict
from rightsizer.errors import SourceError
from rightsizer.sources.last_accessed import load_last_accessed, parse_role_access

WINDOW = datetime(2026, 10, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::111122223333:role/app"


def _access(services: list[dict]) -> object:
    return parse_role_access(ROLE, {"JobStatus": "COMPLETED",
                                    "JobCompletionDate": "2026-11-01T00:00:00Z",
                                    "ServicesLastAccessed": services})


def _unused(action: str) -> Verdict:
    return Verdict(action, "unused", "granted, observable, no call in the window", True)


def _used(action: str) -> Verdict:
    return Verdict(action, "used", "1 call", True, ActionEvidence(action, calls=1))


S3_TRACKED = {"ServiceNamespace": "s3", "LastAuthenticated": "2026-06-02T10:00:00Z",
              "TrackedActionsLastAccessed": [
                  {"ActionName": "PutBucketPolicy", "LastAccessedTime": "2026-06-02T10:00:00Z"},
                  {"ActionName": "DeleteBucket"}]}


@pytest.mark.parametrize(("services", "verdicts", "expected"), [
    # Tracked action, used long before the window (a quarterly job): kept, with its date.
    ([S3_TRACKED], [_unused("s3:PutBucketPolicy")], ("used_per_iam", "2026-06-02")),
    # Tracked action, never accessed: the unused verdict stands, and says why it is stronger.
    ([S3_TRACKED], [_unused("s3:DeleteBucket")], ("unused", "never accessed")),
    # The service not accessed in the tracking period at all: stronger.
    ([], [_unused("sqs:DeleteQueue")], ("unused", "sqs not accessed")),
    # Service-level only, last use before the window: IAM saw what CloudTrail did not.
    ([{"ServiceNamespace": "sns", "LastAuthenticated": "2026-07-01T00:00:00Z"}],
     [_unused("sns:DeleteTopic")], ("used_per_iam", "2026-07-01")),
    # Service-level, last use in the window, where CloudTrail saw calls of it: explained.
    ([{"ServiceNamespace": "sns", "LastAuthenticated": "2026-10-20T00:00:00Z"}],
     [_unused("sns:DeleteTopic"), _used("sns:Publish")], ("unused", "in the window")),
    # An action of an action-level service that IAM does not track: the service decides.
    ([S3_TRACKED], [_unused("s3:GetObject")], ("used_per_iam", "2026-06-02")),
])
def test_the_second_witness_only_keeps(services: list[dict], verdicts: list[Verdict],
                                       expected: tuple[str, str]) -> None:
    out, _ = witness(verdicts, _access(services), WINDOW)
    first = out[0]
    verdict, text = expected
    assert first.verdict == verdict
    assert text in (first.reason + " " + first.rule)
    # Only "unused" verdicts may change, and only to a kept one: nothing else moves.
    for before, after in zip(verdicts, out, strict=True):
        if before.verdict != "unused":
            assert after == before
        else:
            assert after.verdict in ("unused", "used_per_iam")


def test_disagreements_are_named_both_ways() -> None:
    access = _access([{"ServiceNamespace": "kms", "LastAuthenticated": "2026-10-15T00:00:00Z"},
                      {"ServiceNamespace": "s3", "LastAuthenticated": "2026-08-01T00:00:00Z"}])
    verdicts = [_used("s3:GetObject"), _used("sqs:SendMessage"), _unused("kms:Decrypt")]
    _, notes = witness(verdicts, access, WINDOW)
    assert any("sqs" in n and "no use of it" in n for n in notes)
    assert any("s3" in n and "before the window" in n for n in notes)
    assert any("kms" in n and "CloudTrail shows no call" in n for n in notes)


def test_the_file_maps_role_arns_to_the_cli_output(tmp_path: Path) -> None:
    path = tmp_path / "la.json"
    path.write_text(json.dumps({ROLE: {"ServicesLastAccessed": [S3_TRACKED]}}))
    access = load_last_accessed(path)[ROLE]
    assert access.services["s3"].actions == {
        "putbucketpolicy": datetime(2026, 6, 2, 10, tzinfo=UTC), "deletebucket": None}
    path.write_text(json.dumps({"Roles": [{"Arn": ROLE, "ServicesLastAccessed": []}]}))
    assert load_last_accessed(path)[ROLE].services == {}
    path.write_text(json.dumps(["not", "this"]))
    with pytest.raises(SourceError, match=r"la\.json.*get-service-last-accessed-details"):
        load_last_accessed(path)


def test_a_run_keeps_what_iam_saw_used_and_says_where_the_witnesses_disagree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rightsizer
    from rightsizer.settings import load_settings

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    role = "arn:aws:iam::883921282152:role/ecs/orders-api-task"
    access = tmp_path / "la.json"
    access.write_text(json.dumps({role: {"ServicesLastAccessed": [
        # IAM saw DynamoDB last on 2026-10-30, explained by the window's calls; DeleteItem,
        # tracked, last on 2026-08-01, before the window.
        {"ServiceNamespace": "dynamodb", "LastAuthenticated": "2026-10-30T00:00:00Z",
         "TrackedActionsLastAccessed": [
             {"ActionName": "DeleteItem", "LastAccessedTime": "2026-08-01T00:00:00Z"},
             {"ActionName": "BatchWriteItem"}]}]}}))
    result = rightsizer.run(
        logs=["sample_logs/cloudtrail"], iam="sample_logs/iam/authorization-details.json",
        ecs="sample_logs/ecs/task-definitions.json", out=tmp_path / "out",
        db=tmp_path / "s.duckdb", trail_files=["sample_logs/trail/event-selectors.json"],
        settings=load_settings(None, env={}, flags={"sources.last_accessed": str(access)}),
        workers=1)
    summary = json.loads((result.out / "summary.json").read_text())
    orders = next(r for r in summary["roles"] if r["name"] == "orders-api-task")
    assert [k["action"] for k in orders["kept_used_per_iam"]] == ["dynamodb:DeleteItem"]
    assert "2026-08-01" in orders["kept_used_per_iam"][0]["reason"]
    assert "dynamodb:DeleteItem" in orders["proposed_actions"]
    assert "dynamodb:BatchWriteItem" in orders["unused_actions"]  # tracked, never used
    assert orders["replay"]["passed"]
    # The file names no other service: CloudTrail's calls of SQS have no witness in IAM.
    assert any("IAM and CloudTrail disagree" in n and "calls of sqs" in n
               for n in orders["notes"])
    assert not any("disagree" in n and "dynamodb" in n for n in orders["notes"])
    # Roles the file does not name are judged as before.
    others = [r for r in summary["roles"] if r["name"] != "orders-api-task"]
    assert all(not r["kept_used_per_iam"] for r in others)


@pytest.mark.parametrize(("last_used", "known", "created", "seen", "expected"), [
    (datetime(2026, 8, 1, tzinfo=UTC), True, None, False,
     "last saw the role used on 2026-08-01"),
    (datetime(2026, 10, 5, tzinfo=UTC), True, None, False, None),  # used in the window
    (None, True, datetime(2024, 1, 2, tzinfo=UTC), False, "since it was created on 2024-01-02"),
    (None, True, datetime(2026, 10, 20, tzinfo=UTC), False, None),  # created in the window: new
    (None, False, datetime(2024, 1, 2, tzinfo=UTC), False, None),  # RoleLastUsed not in the data
    # CloudTrail saw the role at work in the window: whatever IAM's record says (a snapshot
    # older than the logs, or another partition's view), deleting it would stop the service.
    (datetime(2026, 8, 1, tzinfo=UTC), True, None, True, None),
    (None, True, datetime(2024, 1, 2, tzinfo=UTC), True, None),
])
def test_role_last_used_before_the_window_is_an_unused_role(
        last_used: datetime | None, known: bool, created: datetime | None, seen: bool,
        expected: str | None) -> None:
    from dataclasses import replace

    from rightsizer.analysis.inventory import InventoryRole
    from rightsizer.proposal.rightsize import Window, _unused_since

    role = InventoryRole(name="app", arn=ROLE, path="/", in_iam_data=True, ecs=True,
                         evidence=(), kinds=(), uses=(), needs=(), trust=None, policies=(),
                         boundary=None, assumed=None, findings=())
    role = replace(role, last_used=last_used, last_used_known=known, created=created)
    found, note = _unused_since(role, Window(WINDOW, datetime(2026, 11, 1, tzinfo=UTC)),
                                5 if seen else 0)
    assert (found is None) if expected is None else (expected in (found or ""))
    # Where IAM's record says unused but CloudTrail saw the role, the two disagree in a note.
    assert (note is not None) == (seen and (last_used is not None or created is not None))
    assert note is None or "CloudTrail saw it at work on 5 days" in note


def test_the_sample_keeps_what_only_iam_saw_and_the_report_shows_both_witnesses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sample_logs/iam/last-accessed.json, written by the simulator: the reports job's task role
    used s3:PutLifecycleConfiguration two months before the end, outside the window."""
    import rightsizer
    from rightsizer.settings import load_settings

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = rightsizer.run(
        logs=["sample_logs/cloudtrail"], iam="sample_logs/iam/authorization-details.json",
        ecs="sample_logs/ecs/task-definitions.json", out=tmp_path / "out",
        db=tmp_path / "s.duckdb", trail_files=["sample_logs/trail/event-selectors.json"],
        settings=load_settings(None, env={}, flags={
            "sources.last_accessed": "sample_logs/iam/last-accessed.json"}),
        workers=1)
    summary = json.loads((result.out / "summary.json").read_text())
    reports = next(r for r in summary["roles"] if r["name"] == "reports-batch-task")
    assert [k["action"] for k in reports["kept_used_per_iam"]] == [
        "s3:PutLifecycleConfiguration"]
    assert "s3:PutLifecycleConfiguration" in reports["proposed_actions"]
    assert reports["replay"]["passed"]
    # Elsewhere the data agrees with CloudTrail: nothing else kept, nothing contradicted.
    assert all(not r["kept_used_per_iam"] for r in summary["roles"] if r is not reports)
    assert not any("disagree" in n for r in summary["roles"] for n in r["notes"])
    markdown = (result.out / "report.md").read_text()
    html = (result.out / "report.html").read_text()
    assert "1 \u00d7 IAM saw it used, CloudTrail did not" in markdown  # the role's how sure
    assert "IAM last accessed s3:PutLifecycleConfiguration on 2026-09-02" in html
    assert "kept: IAM saw it used" in html
    diff = (result.out / "roles" / "reports-batch-task" / "diff.md").read_text()
    assert "s3:PutLifecycleConfiguration" in diff and "2026-09-02" in diff
