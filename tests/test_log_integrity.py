"""CloudTrail log file integrity validation (issue 15), on a simulated account whose digests are
signed as CloudTrail signs them: valid logs, a modified file, a deleted file, a missing digest, a
broken chain and a wrong key, each named; and the run that uses them."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rightsizer
from rightsizer.analysis.integrity import IntegrityReport, Status
from rightsizer.cli import main
from rightsizer.pipeline.integrity import log_integrity
from rightsizer.simulate.signing import region_key, signing_key

SEED = 7
START, END = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signed") / "account"
    rightsizer.simulate_account(out, events=400, seed=SEED, services=2, days=2)
    return out


@pytest.fixture()
def tree(account: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "account"
    shutil.copytree(account, copy)
    return copy


def _check(tree: Path, tmp_path: Path, keys: Path | None = None) -> IntegrityReport:
    db = tmp_path / "store.duckdb"
    rightsizer.ingest([str(tree / "cloudtrail")], db, workers=1)
    report = log_integrity(db, [str(tree / "cloudtrail")],
                           str(keys or tree / "trail" / "public-keys.json"), None, START, END)
    assert report is not None
    return report


def _statuses(report: IntegrityReport) -> dict[str, Status]:
    return {f.path: f.status for f in report.files}


def _logs(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "cloudtrail").rglob("*.json.gz")
                  if "CloudTrail-Digest" not in p.parts)


def _digests(tree: Path) -> list[Path]:
    return sorted((tree / "cloudtrail").rglob("CloudTrail-Digest/**/*.json.gz"),
                  key=lambda p: p.name.rsplit("_", 1)[-1])


def _busiest_log(tree: Path) -> Path:
    """The log file with the most calls of ECS task roles: one a role's evidence rests on."""
    def calls(path: Path) -> int:
        return gzip.decompress(path.read_bytes()).count(b"exec-env/AWS_ECS")
    return max(_logs(tree), key=calls)


def _digest_listing(tree: Path, log: Path) -> Path:
    key = log.as_posix()[log.as_posix().index("AWSLogs/"):]
    for digest in _digests(tree):
        data = json.loads(gzip.decompress(digest.read_bytes()))
        if any(f["s3Object"] == key for f in data["logFiles"]):
            return digest
    raise AssertionError(f"no digest lists {key}")


def _read(digest: Path) -> dict[str, Any]:
    return json.loads(gzip.decompress(digest.read_bytes()))


def test_untouched_logs_are_all_valid(tree: Path, tmp_path: Path) -> None:
    report = _check(tree, tmp_path)
    counts = report.counts()
    assert counts["valid"] > 0
    assert {k: v for k, v in counts.items() if k != "valid"} == dict.fromkeys(
        ("modified", "missing", "not_covered", "signature_invalid", "chain_broken"), 0)
    assert report.digests_verified > 0 and report.keys >= 1


def test_a_modified_file_is_named_modified(tree: Path, tmp_path: Path) -> None:
    victim = _logs(tree)[3]
    records = json.loads(gzip.decompress(victim.read_bytes()))
    records["Records"][0]["sourceIPAddress"] = "203.0.113.66"  # still CloudTrail, still read
    victim.write_bytes(gzip.compress(json.dumps(records).encode()))
    statuses = _statuses(_check(tree, tmp_path))
    assert statuses.pop(str(victim)) is Status.MODIFIED
    assert set(statuses.values()) == {Status.VALID}


def test_a_deleted_file_is_named_missing(tree: Path, tmp_path: Path) -> None:
    victim = _logs(tree)[5]
    key = victim.as_posix()[victim.as_posix().index("AWSLogs/"):]
    victim.unlink()
    statuses = _statuses(_check(tree, tmp_path))
    assert statuses.pop(key) is Status.MISSING
    assert set(statuses.values()) == {Status.VALID}


def test_a_missing_digest_breaks_the_chain_around_it(tree: Path, tmp_path: Path) -> None:
    victim_log = _logs(tree)[4]
    digest = _digest_listing(tree, victim_log)
    digest.unlink()
    report = _check(tree, tmp_path)
    statuses = _statuses(report)
    assert statuses[str(victim_log)] is Status.NOT_COVERED  # no digest lists it any more
    broken = [f for f in report.files if f.status is Status.CHAIN_BROKEN]
    assert broken, "the digests on both sides of the gap cannot be linked"
    assert all(f.status in (Status.VALID, Status.NOT_COVERED, Status.CHAIN_BROKEN)
               for f in report.files)


def test_a_broken_chain_with_valid_signatures_is_named(tree: Path, tmp_path: Path) -> None:
    # A digest re-signed with CloudTrail's own (here, the simulation's) key but linked to a
    # digest that never existed: its signature holds, its chain does not.
    digests = _digests(tree)
    data = _read(digests[len(digests) // 2])
    region = data["digestS3Object"].split("/CloudTrail-Digest/")[1].split("/")[0]
    data["previousDigestS3Object"] = data["previousDigestS3Object"].replace(".json.gz",
                                                                            "-gone.json.gz")
    body = json.dumps(data).encode()
    target = digests[len(digests) // 2]
    target.write_bytes(gzip.compress(body))
    # The next digest carries this one's signature: re-sign it too, as CloudTrail would have.
    import hashlib

    key = region_key(SEED, region)
    signature = key.sign(f"{data['digestEndTime']}\n{data['digestS3Bucket']}/"
                         f"{data['digestS3Object']}\n{hashlib.sha256(body).hexdigest()}\n"
                         f"{data['previousDigestSignature'] or 'null'}".encode())
    for other in digests:
        following = _read(other)
        if following.get("previousDigestS3Object") == data["digestS3Object"]:
            following["previousDigestSignature"] = signature
            following["previousDigestHashValue"] = hashlib.sha256(body).hexdigest()
            # ...which changes the next one's content: its own signature no longer holds.
            other.write_bytes(gzip.compress(json.dumps(following).encode()))
    report = _check(tree, tmp_path)
    assert Status.CHAIN_BROKEN in {f.status for f in report.files}
    assert Status.MODIFIED not in {f.status for f in report.files}


def test_a_wrong_key_makes_every_signature_invalid(tree: Path, tmp_path: Path) -> None:
    import random

    listed = json.loads((tree / "trail" / "public-keys.json").read_text())
    impostor = signing_key(random.Random(99), 1024)
    for entry in listed["PublicKeyList"]:
        entry["Value"] = base64.b64encode(impostor.public_der).decode()
    keys = tmp_path / "wrong-keys.json"
    keys.write_text(json.dumps(listed))
    report = _check(tree, tmp_path, keys)
    assert {f.status for f in report.files} == {Status.SIGNATURE_INVALID}
    assert report.digests_verified == 0


def test_without_public_keys_nothing_is_called_valid(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    rightsizer.ingest([str(tree / "cloudtrail")], db, workers=1)
    report = log_integrity(db, [str(tree / "cloudtrail")], None, None, START, END)
    assert report is not None
    assert {f.status for f in report.files} == {Status.NOT_COVERED}
    assert "--public-keys" in report.files[0].reason


def test_a_run_over_a_modified_file_names_it_and_withholds_the_proposals(
        tree: Path, tmp_path: Path) -> None:
    victim = _busiest_log(tree)
    records = json.loads(gzip.decompress(victim.read_bytes()))
    records["Records"][0]["userAgent"] = "forged"
    victim.write_bytes(gzip.compress(json.dumps(records).encode()))
    args = ["run", "--logs", str(tree / "cloudtrail"), "--iam",
            str(tree / "iam" / "authorization-details.json"), "--ecs",
            str(tree / "ecs" / "task-definitions.json"), "--trail",
            str(tree / "trail" / "event-selectors.json"), "--public-keys",
            str(tree / "trail" / "public-keys.json"), "--db", str(tmp_path / "run.duckdb"),
            "--out", str(tmp_path / "out"), "--workers", "1"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    # This small account's ECS roles all run where the file came from: none can be judged.
    assert result.exit_code == 4, result.stderr
    assert "no role could be judged" in result.stderr
    assert f"log integrity: {victim}: modified" in result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["integrity"]["counts"]["modified"] == 1
    (failed,) = summary["integrity"]["files"]
    assert (failed["path"], failed["status"]) == (str(victim), "modified")
    assert "differs from" in failed["reason"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**Log integrity** **1 modified" in report and victim.name in report
    region = victim.as_posix().split("/CloudTrail/")[1].split("/")[0]
    withheld = [r for r in summary["roles"]
                if "LOG_INTEGRITY_FAILED" in {f["code"] for f in r["findings"]}]
    assert withheld and all(r["policy_path"] is None for r in withheld)
    assert all(any(p["region"] == region for p in r["evidence_sufficiency"]["footprint"])
               for r in withheld)
    # The store keeps the run's result too.
    from rightsizer.store.database import Store

    with Store(tmp_path / "run.duckdb", read_only=True) as store:
        (run_id, _, _), = store.runs()
        kept = store.run_integrity(run_id)
        assert kept["counts"]["modified"] == 1
        assert [f["path"] for f in kept["files"]] == [str(victim)]  # the failure, listed
        assert sum(u["files"] for u in kept["unverified"]) == kept["counts"]["not_covered"]
    strict = CliRunner().invoke(main, [*args, "--require-valid-logs"], catch_exceptions=False)
    assert strict.exit_code == 4
    assert "1 log file failed integrity validation (--require-valid-logs)" in strict.stderr


def test_the_run_history_keeps_the_failures_whole_and_counts_the_unverified_files() -> None:
    """The store keeps every run's integrity result. Files merely not covered (no digest, no
    public key) are counted per reason there, not listed: a daily job over 40,000 files would
    otherwise store 13 MB a run (measured: 1M simulated events), and writing it cost the run
    100-200 MiB. summary.json still lists every file not valid; a failure is listed in both."""
    from rightsizer.analysis.integrity import FileIntegrity

    no_keys = "no public keys to check the digests' signatures"
    files = (
        *(FileIntegrity(f"/logs/f{i}.json.gz", Status.NOT_COVERED, no_keys, "1", "us-east-1")
          for i in range(1000)),
        FileIntegrity("/logs/g.json.gz", Status.NOT_COVERED, "no digest lists it", "1", "eu"),
        FileIntegrity("/logs/m.json.gz", Status.MODIFIED, "differs from its digest", "1", "eu"),
        FileIntegrity("/logs/v.json.gz", Status.VALID, "", "1", "eu"),
    )
    report = IntegrityReport(files, digests=3, digests_verified=0, keys=0)
    record = report.record_json()
    assert record["counts"] == report.counts()
    assert record["files"] == [{"path": "/logs/m.json.gz", "status": "modified",
                                "reason": "differs from its digest"}]
    assert record["unverified"] == [
        {"status": "not_covered", "reason": no_keys, "files": 1000},
        {"status": "not_covered", "reason": "no digest lists it", "files": 1}]
    assert len(json.dumps(record)) < 1000
    assert len(report.as_json()["files"]) == 1002  # summary.json: every file not valid
