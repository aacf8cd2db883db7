"""Ingest end to end on local files: shapes, duplicates, skips, bad inputs, incremental runs."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from helpers import ACCOUNT, delivery_path, event, minimal_digest, write_delivery
from hypothesis import given
from hypothesis import strategies as st

import rightsizer
from rightsizer.errors import ConfigError
from rightsizer.sources.locate import Scope
from rightsizer.store import staging

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DAY = datetime(2026, 10, 1)


def stored(db: Path, query: str = "SELECT event_id FROM events ORDER BY 1") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query).fetchall()


def realdata_event_ids() -> set[str]:
    """The eventIDs in ../shared/realdata, read independently with the json module."""
    ids = set()
    for path in REALDATA.rglob("*.json*"):
        raw = path.read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        try:
            doc = orjson.loads(text)
            records = doc["Records"] if isinstance(doc, dict) and "Records" in doc else doc
        except orjson.JSONDecodeError:
            records = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        for r in records if isinstance(records, list) else [records]:
            time = str(r.get("eventTime", ""))
            if "eventName" in r and r.get("eventID") and time[:1].isdigit():
                ids.add(r["eventID"])
    return ids


def run(sources: list[Path | str], db: Path, **kw: object) -> rightsizer.IngestSummary:
    kw.setdefault("workers", 1)
    return rightsizer.ingest([str(s) for s in sources], db, **kw)  # type: ignore[arg-type]


# CI lays shared/ beside the checkout: there the real data must be found, not skipped.
@pytest.mark.skipif(not REALDATA.is_dir() and not os.environ.get("CI"),
                    reason="../shared/realdata is not beside the checkout")
def test_every_realdata_file_ingests(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    summary = run([REALDATA], db, workers=2)
    bad = {os.path.relpath(b.path, REALDATA): b.reason for b in summary.bad_inputs}
    # The provenance files beside the data hold no events; panther's curated events include
    # some with no usable eventTime ("redacted", missing): named, everything else stored.
    assert set(bad) == {
        "panther-analysis-tests/PROVENANCE.jsonl",
        "stratus-red-team-detonation-logs/PROVENANCE.jsonl",
        "panther-analysis-tests/aws_cloudtrail_rule_test_events.jsonl",
    }
    panther = bad["panther-analysis-tests/aws_cloudtrail_rule_test_events.jsonl"]
    assert "no readable eventTime" in panther
    assert [s.reason for s in summary.files_skipped] == ["not a JSON file"]  # README.md
    # Every event with an eventID and a usable time is stored, once.
    assert {r[0] for r in stored(db) if not r[0].startswith("rs-")} == realdata_event_ids()
    # trailscraper's .json and .json.gz hold the same records: stored once.
    assert summary.events_duplicate >= 2
    # Roles are named by sessionIssuer.arn, never rebuilt from the sts ARN (some curated panther
    # records lack sessionContext: their principal is unknown, not guessed).
    mismatched = stored(db, "SELECT count(*) FROM events WHERE identity_type = 'AssumedRole' "
                            "AND principal NOT LIKE 'arn:aws:iam::%:role/%'")
    assert mismatched == [(0,)]
    again = run([REALDATA], db)
    assert again.files_ingested == 0
    assert again.events_ingested == 0
    assert again.files_already_ingested == summary.files_ingested


def test_duplicates_digests_and_shapes(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    events = [event(i) for i in range(10)]
    write_delivery(delivery_path(logs, DAY, "a"), events[:6])
    write_delivery(delivery_path(logs, DAY, "b"), events[4:8])  # 4 and 5 delivered twice
    digest = logs / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "10" / "01"
    digest.mkdir(parents=True)
    (digest / "x_CloudTrail-Digest_us-east-1_t_us-east-1_20261001T010000Z.json.gz").write_bytes(
        minimal_digest("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/01/x.json.gz"))
    (logs / "export.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events[7:9]))
    (logs / "single.json").write_bytes(orjson.dumps(events[9], option=orjson.OPT_INDENT_2))
    (logs / "array.json").write_bytes(orjson.dumps(events[:2]))

    db = tmp_path / "s.duckdb"
    summary = run([logs], db)
    assert summary.bad_inputs == ()
    assert summary.events_ingested == 10
    # 2 delivered twice + 1 in both b and the export + 2 of the array
    assert summary.events_duplicate == 5
    assert summary.files_ingested == 5
    assert [s.reason for s in summary.files_skipped] == [
        "CloudTrail digest file (integrity hashes, not events)"]
    assert summary.digest_files_read == 1  # kept for the integrity check, not as events
    assert summary.files_seen == 6
    assert stored(db) == sorted((e["eventID"],) for e in events)


def test_stored_fields(tmp_path: Path) -> None:
    assume = {
        **event(1, role="exec"), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
        "userIdentity": {"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"},
        "requestParameters": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/ecs/exec",
                              "roleSessionName": "f" * 32},
        "responseElements": {"credentials": {"accessKeyId": "ASIAXYZ", "sessionToken": "SECRET",
                                             "expiration": "Oct 1, 2026"},
                             "assumedRoleUser": {"arn": "x"}},
    }
    decrypt = event(2, eventSource="kms.amazonaws.com", eventName="Decrypt",
                    resources=[{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k",
                                "type": "AWS::KMS::Key", "accountId": ACCOUNT}],
                    errorCode="AccessDenied", errorMessage="not authorized")
    decrypt["userIdentity"]["invokedBy"] = "secretsmanager.amazonaws.com"
    no_id = {k: v for k, v in event(3).items() if k != "eventID"}
    odd_time = event(4, eventTime="2026-10-01T14:00:00+02:00")
    write_delivery(tmp_path / "logs" / "a.json.gz", [assume, decrypt, no_id, odd_time])
    db = tmp_path / "f.duckdb"
    run([tmp_path / "logs"], db)
    rows = {r[0]: r[1:] for r in stored(db, """
        SELECT event_name, principal, identity_type, session_name, invoked_by, error_code,
               resources[1].ARN, event_time::VARCHAR, event_id, read_only, event_category,
               source, request_parameters->>'roleArn'
        FROM events""")}
    assert rows["AssumeRole"][:2] == ("ecs-tasks.amazonaws.com", "AWSService")
    assert rows["AssumeRole"][-1] == f"arn:aws:iam::{ACCOUNT}:role/ecs/exec"
    # Credentials never reach the store, in no column.
    everything = stored(db, "SELECT string_agg(e::VARCHAR, '') FROM events AS e")[0][0]
    assert "SECRET" not in everything and "ASIAXYZ" not in everything
    d = rows["Decrypt"]
    assert d[0] == f"arn:aws:iam::{ACCOUNT}:role/ecs/app-task"  # the path is kept
    assert d[2] == f"{2:032x}"
    assert d[3:6] == ("secretsmanager.amazonaws.com", "AccessDenied",
                      "arn:aws:kms:us-east-1:111122223333:key/k")
    assert d[9] == "Data" and d[10].endswith("a.json.gz")
    get = [r for r in stored(db, "SELECT event_id, event_time::VARCHAR FROM events "
                                 "WHERE event_name = 'GetObject' ORDER BY 2")]
    assert get == [(odd_time["eventID"], "2026-10-01 12:00:00"),  # +02:00 read as UTC
                   (get[1][0], "2026-10-01 12:03:00")]
    assert get[1][0].startswith("rs-")  # no eventID: one derived from the content
    # The derived id is the same when the same record comes again in another file.
    write_delivery(tmp_path / "logs2" / "b.json.gz", [no_id])
    assert run([tmp_path / "logs2"], db).events_duplicate == 1


def test_a_missing_source_is_a_usage_error_before_anything_is_made(tmp_path: Path) -> None:
    # A mistyped path is not data that could not be read (issue 14): ConfigError, exit 2, and
    # no store or lock file is created.
    with pytest.raises(ConfigError, match="missing-folder: no such file or folder"):
        run([tmp_path / "missing-folder"], tmp_path / "b.duckdb")
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_named_and_the_rest_is_stored(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = write_delivery(delivery_path(logs, DAY, "good"), [event(1), event(2)])
    blob = gzip.compress(orjson.dumps({"Records": [event(i) for i in range(3, 40)]}))
    truncated_gz = delivery_path(logs, DAY, "trunc")
    truncated_gz.write_bytes(blob[: len(blob) // 2])
    (logs / "broken.json").write_bytes(b'{"Records": [' + orjson.dumps(event(50)) + b", {\"ev")
    (logs / "iam.json").write_bytes(b'{"RoleDetailList": []}')
    unreadable = logs / "secret.json"
    unreadable.write_bytes(b"{}")
    unreadable.chmod(0)
    db = tmp_path / "b.duckdb"
    try:
        summary = run([logs], db)
    finally:
        unreadable.chmod(0o644)
    reasons = {Path(b.path).name: b.reason for b in summary.bad_inputs}
    assert "corrupt gzip" in reasons[truncated_gz.name]
    assert "cut short after 1 record" in reasons["broken.json"]
    assert "without CloudTrail events" in reasons["iam.json"]
    if os.geteuid() != 0:  # root reads anything
        assert "cannot read" in reasons["secret.json"]
    # Everything readable was stored, including the complete record before the cut.
    assert stored(db) == [(event(i)["eventID"],) for i in (1, 2, 50)]
    assert summary.files_ingested == 1
    # Bad inputs are recorded in the store, and read again (and reported again) next time;
    # the good file is not read again.
    assert stored(db, "SELECT count(DISTINCT uri) FROM bad_inputs")[0][0] == len(reasons)
    again = run([logs], db)
    assert again.files_already_ingested == 1 and good.exists()
    assert {Path(b.path).name for b in again.bad_inputs} >= {truncated_gz.name, "broken.json"}


def test_incremental_reads_only_new_and_changed_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_delivery(delivery_path(logs, DAY, "a"), [event(1)])
    db = tmp_path / "i.duckdb"
    assert run([logs], db).files_ingested == 1
    write_delivery(delivery_path(logs, DAY, "b"), [event(2)])
    second = run([logs], db)
    assert (second.files_ingested, second.files_already_ingested) == (1, 1)
    assert second.events_ingested == 1
    # A file replaced with more content (new size and mtime) is read again; its old events
    # count as duplicates. Replaced as sync tools do, written beside and renamed over it: a
    # delivery folder read whole is not listed again while its list of files is unchanged, so
    # a delivery file rewritten in place is not seen (test_ingest_folders.py).
    path = delivery_path(logs, DAY, "a")
    beside = write_delivery(path.with_name("a.part"), [event(1), event(3)])
    os.utime(beside, ns=(1, 1))
    beside.replace(path)
    third = run([logs], db)
    assert (third.files_ingested, third.events_ingested, third.events_duplicate) == (1, 1, 1)


def test_window_and_filters_prune_by_layout(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for day in (1, 2, 3, 4, 5):
        when = datetime(2026, 10, day)
        write_delivery(delivery_path(logs, when, f"d{day}"), [event(day, when=when)])
        write_delivery(delivery_path(logs, when, f"w{day}", region="eu-west-1"),
                       [event(100 + day, when=when)])
    shutil.copy(delivery_path(logs, datetime(2026, 10, 1), "d1"), logs / "outside-layout.json.gz")
    db = tmp_path / "w.duckdb"
    scope = Scope(since=datetime(2026, 10, 2).date(), until=datetime(2026, 10, 3).date(),
                  regions=frozenset({"us-east-1"}))
    summary = run([logs], db, scope=scope)
    # Days 2, 3 and 4 (one day of slack for late delivery), in us-east-1; the file outside the
    # layout is always read.
    assert summary.files_ingested == 4
    assert stored(db) == sorted((event(n)["eventID"],) for n in (1, 2, 3, 4))
    # Date folders out of the window are pruned whole, in both regions (not walked); the
    # other region's files in the window are skipped one by one.
    skipped = sorted((s.path.endswith("/"), s.reason) for s in summary.files_skipped)
    assert skipped == [(False, "region eu-west-1 not selected")] * 3 + [
        (True, "delivered after the window (+1 day) (2026-10-05 to 2026-10-05)")] * 2 + [
        (True, "delivered before the window (2026-10-01 to 2026-10-01)")] * 2


@pytest.mark.parametrize(("folder", "reason"), [
    ("2025", "delivered before the window (2025-01-01 to 2025-12-31)"),
    ("2026", None),
    ("2026/09", "delivered before the window (2026-09-01 to 2026-09-30)"),
    ("2026/10", None),
    ("2026/10/04", "delivered before the window (2026-10-04 to 2026-10-04)"),
    ("2026/10/05", None),
    ("2026/11/01", None),  # the day of slack: late deliveries of the window's last day
    ("2026/11/02", "delivered after the window (+1 day) (2026-11-02 to 2026-11-02)"),
    ("2026/12", "delivered after the window (+1 day) (2026-12-01 to 2026-12-31)"),
    ("2026/13", None),  # not a date: walked, its files say what they are
    ("2026/10/05/extra", None),  # deeper than the layout
])
def test_date_folders_out_of_the_window_are_not_walked(folder: str, reason: str | None) -> None:
    scope = Scope(since=datetime(2026, 10, 5).date(), until=datetime(2026, 10, 31).date())
    base = "/logs/AWSLogs/o-abcdefghij/111122223333/CloudTrail/us-east-1/"
    assert scope.rejects_folder(base + folder) == reason
    assert Scope().rejects_folder(base + folder) is None  # no window: every folder is walked
    assert scope.rejects_folder(f"/logs/elsewhere/{folder}") is None
    # The digests' date folders are pruned by the same window (their walk lists as many files).
    digests = base.replace("/CloudTrail/", "/CloudTrail-Digest/")
    assert scope.rejects_folder(digests + folder) == reason



@given(st.lists(st.sampled_from([
    "AWSLogs", "o-abcdefghij", "111122223333", "CloudTrail", "CloudTrail-Digest", "us-east-1",
    "2026", "10", "01", "x.json.gz", "2026.json.gz", "CloudTrail.json"]), max_size=9))
def test_the_layout_read_per_folder_is_the_layout_read_from_the_whole_path(
        parts: list[str]) -> None:
    """parse_layout reads the folders only (cached per folder): for any path, the same as the
    layout pattern searched over the whole path."""
    from rightsizer.sources.locate import _LAYOUT, Layout, parse_layout

    path = "/" + "/".join(parts)
    match = _LAYOUT.search(path)
    layout = parse_layout(path)
    if match is None:
        assert layout == Layout()
    else:
        g = match.groupdict()
        assert (layout.org, layout.account, layout.kind, layout.region) == (
            g["org"], g["account"], g["kind"], g["region"])
        whole = (g["y"], g["m"], g["d"]) if g["d"] else None
        assert (layout.delivery_date is not None) == (whole is not None)


def test_an_ingest_loads_neither_pandas_nor_pyarrow(tmp_path: Path) -> None:
    """Memory is the ingest's limit at scale; pandas alone is 48 MB in each process that loads
    it (pyarrow's first conversion does), and the ingest needs neither."""
    root = Path(__file__).resolve().parents[1]
    script = (
        "import sys\n"
        "from rightsizer.pipeline.ingest import ingest\n"
        f"ingest([{str(root / 'sample_logs' / 'cloudtrail')!r}], {str(tmp_path / 's.duckdb')!r},"
        " workers=1)\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=root, timeout=120)
    assert result.stdout.strip() == "[]"


def test_an_ingest_in_one_process_closes_its_typing_duckdb(tmp_path: Path) -> None:
    """With one worker the spools are typed in this process; the DuckDB that typed them is
    closed when the ingest ends, so a process that goes on (a notebook, ``run``) gets its
    memory back."""
    root = Path(__file__).resolve().parents[1]
    summary = rightsizer.ingest([str(root / "sample_logs" / "cloudtrail")],
                                tmp_path / "s.duckdb", workers=1)
    assert summary.as_json()["events_ingested"] > 0
    assert staging._connection is None
