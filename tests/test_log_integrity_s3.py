"""Log integrity for logs read from S3 (issue 15): the digests' signatures come from the objects'
metadata, as CloudTrail sets them (so even the newest digest is verified), and CloudTrail's
public keys are read live through ``cloudtrail:ListPublicKeys``. S3 is moto's server over HTTP;
moto has no ListPublicKeys, so a small CloudTrail endpoint of our own serves it over HTTP in
CloudTrail's JSON protocol."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import serve_http

import rightsizer
from rightsizer.analysis.integrity import Status
from rightsizer.pipeline.integrity import log_integrity
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.s3 import S3Options, make_client

START, END = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signed-s3") / "account"
    rightsizer.simulate_account(out, events=300, seed=11, services=2, days=2)
    return out


@pytest.fixture()
def uploaded(account: Path, s3_bucket: tuple[Any, str]) -> str:
    """The account's logs in S3, each digest with the metadata CloudTrail gives it."""
    client, bucket = s3_bucket
    signatures = json.loads((account / "trail" / "digest-signatures.json").read_text())
    root = account / "cloudtrail"
    for path in sorted(root.rglob("*.json.gz")):
        key = path.relative_to(root).as_posix()
        extra = ({"Metadata": {"signature": signatures[key],
                               "signature-algorithm": "SHA256withRSA"}}
                 if key in signatures else {})
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)
    return f"s3://{bucket}/"


class _CloudTrail(BaseHTTPRequestHandler):
    """ListPublicKeys in CloudTrail's JSON 1.1 protocol: blobs base64, times epoch seconds."""

    keys: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if not target.endswith(".ListPublicKeys"):
            self.send_response(400)
            self.end_headers()
            return
        body = json.dumps({"PublicKeyList": self.keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def cloudtrail_endpoint(account: Path) -> Iterator[str]:
    listed = json.loads((account / "trail" / "public-keys.json").read_text())["PublicKeyList"]
    _CloudTrail.keys = [{"Value": k["Value"], "Fingerprint": k["Fingerprint"],
                         "ValidityStartTime": 1_700_000_000, "ValidityEndTime": 1_900_000_000}
                        for k in listed]
    with serve_http(_CloudTrail) as url:
        yield url


def test_s3_digests_are_verified_by_their_metadata_with_live_keys(
        uploaded: str, moto_server: str, cloudtrail_endpoint: str, tmp_path: Path) -> None:
    db = tmp_path / "s3.duckdb"
    summary = rightsizer.ingest([uploaded], db, s3_options=S3Options(endpoint_url=moto_server),
                                workers=1)
    assert summary.bad_inputs == () and summary.digest_files_read > 0
    report = log_integrity(db, [uploaded], None, AwsOptions(endpoint_url=cloudtrail_endpoint),
                           START, END)
    assert report is not None
    assert {f.status for f in report.files} == {Status.VALID}
    # From S3 every digest carries its own signature: the newest are verified too.
    assert report.digests_verified == report.digests


def test_an_s3_object_overwritten_is_modified(uploaded: str, moto_server: str,
                                              cloudtrail_endpoint: str, tmp_path: Path,
                                              account: Path) -> None:
    import gzip

    client = make_client(S3Options(endpoint_url=moto_server))
    bucket = uploaded.removeprefix("s3://").rstrip("/")
    logs = sorted(p for p in (account / "cloudtrail").rglob("*.json.gz")
                  if "CloudTrail-Digest" not in p.parts)
    key = logs[1].relative_to(account / "cloudtrail").as_posix()
    records = json.loads(gzip.decompress(logs[1].read_bytes()))
    records["Records"][0]["sourceIPAddress"] = "198.51.100.9"
    client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(records).encode()))
    db = tmp_path / "s3.duckdb"
    rightsizer.ingest([uploaded], db, s3_options=S3Options(endpoint_url=moto_server), workers=1)
    report = log_integrity(db, [uploaded], None, AwsOptions(endpoint_url=cloudtrail_endpoint),
                           START, END)
    assert report is not None
    statuses = {f.path: f.status for f in report.files}
    assert statuses.pop(f"{uploaded}{key}") is Status.MODIFIED
    assert set(statuses.values()) == {Status.VALID}


def test_public_keys_that_cannot_be_read_leave_signatures_unchecked(
        uploaded: str, moto_server: str, tmp_path: Path) -> None:
    db = tmp_path / "s3.duckdb"
    rightsizer.ingest([uploaded], db, s3_options=S3Options(endpoint_url=moto_server), workers=1)
    # moto's server has no ListPublicKeys: no key, so no digest is called forged either.
    report = log_integrity(db, [uploaded], None, AwsOptions(endpoint_url=moto_server),
                           START, END)
    assert report is not None
    assert {f.status for f in report.files} == {Status.NOT_COVERED}


def test_a_public_keys_file_that_is_not_list_public_keys_output_is_named(tmp_path: Path) -> None:
    from rightsizer.errors import SourceError
    from rightsizer.sources.public_keys import load_public_keys

    bad = tmp_path / "keys.json"
    bad.write_text(json.dumps({"Keys": []}))
    with pytest.raises(SourceError, match=r"keys\.json.*PublicKeyList"):
        load_public_keys(bad)
    bad.write_text(json.dumps({"PublicKeyList": [{"Fingerprint": "ab", "Value": "%%%"}]}))
    with pytest.raises(SourceError, match="not base64"):
        load_public_keys(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"PublicKeyList": [
        {"Fingerprint": "ab", "Value": base64.b64encode(b"der").decode()}]}))
    assert load_public_keys(good) == {"ab": b"der"}
