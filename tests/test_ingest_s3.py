"""Ingest from S3 end to end, against moto's server over HTTP, with worker processes."""

from __future__ import annotations

import gzip
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
from helpers import ACCOUNT, event, minimal_digest, seed_many

import rightsizer
from rightsizer.sources.locate import Scope
from rightsizer.sources.s3 import S3Options

ORG = "AWSLogs/o-abcdef1234"


def key(day: date, n: int, region: str = "us-east-1", sub: str = "") -> str:
    return (f"{ORG}/{ACCOUNT}/CloudTrail/{region}/{day:%Y/%m/%d}/{sub}"
            f"{ACCOUNT}_CloudTrail_{region}_{day:%Y%m%d}T0005Z_{n:016d}.json.gz")


def body(numbers: list[int]) -> bytes:
    """A delivery of events numbered ``numbers``, ten seconds apart from 2026-10-01 00:00: all
    inside the day their keys deliver them on (ingest refuses records dated days off)."""
    return gzip.compress(orjson.dumps({"Records": [
        event(n, when=datetime(2026, 10, 1) + timedelta(seconds=10 * n)) for n in numbers]}),
        mtime=0)


def event_ids(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()}


def test_s3_ingest_paginates_reruns_by_etag_and_prunes_by_window(
        s3_bucket: tuple[Any, str], moto_server: str, tmp_path: Path) -> None:
    client, bucket = s3_bucket
    day = date(2026, 10, 1)
    objects = {key(day, n): body([2 * n, 2 * n + 1]) for n in range(1_050)}
    # Delivered twice: the same records in a second object.
    objects[key(day, 5_000)] = body([0, 1])
    objects[key(day + timedelta(days=9), 1)] = body([9_000])  # outside the window below
    objects[f"{ORG}/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/10/01/d.json.gz"] = (
        minimal_digest(f"{ORG}/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/10/01/d.json.gz"))
    seed_many(bucket, objects)
    options = S3Options(endpoint_url=moto_server)
    db = tmp_path / "s3.duckdb"
    scope = Scope(since=day, until=day + timedelta(days=2))

    first = rightsizer.ingest([f"s3://{bucket}/"], db, scope=scope, s3_options=options,
                              workers=2)
    assert first.bad_inputs == ()
    assert first.files_ingested == 1_051  # more than one listing page
    assert first.events_ingested == 2_100 and first.events_duplicate == 2
    assert [s.reason for s in first.files_skipped] == [
        "CloudTrail digest file (integrity hashes, not events)"]
    assert event_ids(db) == {event(n)["eventID"] for n in range(2_100)}
    assert first.sources == (f"s3://{bucket}/",)

    # Same ETags: nothing is read again. A rewritten object (new ETag) is.
    client.put_object(Bucket=bucket, Key=key(day, 7), Body=body([14, 15, 7_777]))
    second = rightsizer.ingest([f"s3://{bucket}/"], db, scope=scope, s3_options=options)
    assert (second.files_ingested, second.files_already_ingested) == (1, 1_050)
    assert (second.events_ingested, second.events_duplicate) == (1, 2)


def test_s3_error_is_a_named_bad_input_and_the_rest_is_stored(
        s3_bucket: tuple[Any, str], faulty_s3_endpoint: str, tmp_path: Path) -> None:
    _, bucket = s3_bucket
    day = date(2026, 10, 1)
    poisoned = key(day, 2, sub="poison/")
    seed_many(bucket, {key(day, 1): body([1, 2]), poisoned: body([3])})
    options = S3Options(endpoint_url=faulty_s3_endpoint, max_attempts=1)
    db = tmp_path / "err.duckdb"

    summary = rightsizer.ingest([f"s3://{bucket}/{ORG}/"], db, s3_options=options, workers=2)
    assert [(b.path, b.reason.split(":")[0]) for b in summary.bad_inputs] == [
        (f"s3://{bucket}/{poisoned}", "S3 GetObject failed")]
    assert event_ids(db) == {event(1)["eventID"], event(2)["eventID"]}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT uri FROM bad_inputs").fetchall() == [
            (f"s3://{bucket}/{poisoned}",)]


def test_missing_bucket_is_a_bad_input(moto_server: str, tmp_path: Path) -> None:
    summary = rightsizer.ingest(["s3://no-such-bucket-rightsizer/x/"], tmp_path / "m.duckdb",
                                s3_options=S3Options(endpoint_url=moto_server, max_attempts=0))
    assert len(summary.bad_inputs) == 1
    assert "NoSuchBucket" in summary.bad_inputs[0].reason
