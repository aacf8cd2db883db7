"""Small builders shared by the tests: CloudTrail records and delivery files."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

ACCOUNT = "111122223333"


def event(n: int, *, when: datetime | None = None, role: str = "app-task", **extra: object) -> dict:
    """A CloudTrail record of an ECS task role calling S3, numbered for a unique eventID."""
    when = when or datetime(2026, 10, 1, 12, 0) + timedelta(minutes=n)
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{n:032x}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{n:032x}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/ecs/{role}", "accountId": ACCOUNT,
                "userName": role}},
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "Boto3/1.35 exec-env/AWS_ECS_FARGATE",
        "requestParameters": {"bucketName": "b", "key": f"k/{n}"},
        "responseElements": None,
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
    }
    record.update(extra)
    return record


def delivery_path(root: Path, day: datetime, name: str, region: str = "us-east-1") -> Path:
    return (root / "AWSLogs" / ACCOUNT / "CloudTrail" / region / f"{day:%Y}" / f"{day:%m}"
            / f"{day:%d}" / f"{ACCOUNT}_CloudTrail_{region}_{day:%Y%m%dT%H%MZ}_{name}.json.gz")


def write_delivery(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), mtime=0))
    return path


def seed_many(bucket: str, objects: dict[str, bytes]) -> None:
    """Store objects straight into the moto backend that ``ThreadedMotoServer`` serves.

    Over HTTP a put costs about 10 ms of Python in this process (client and in-process server
    share one GIL, so a thread pool does not help): 1,100 puts took 13 s. The backend is the
    server's own state (moto docs, server mode), so what is listed afterwards still comes back
    over HTTP; only the seeding skips it. Nothing is mocked or patched."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key, body in objects.items():
        backend.put_object(bucket, key, body)


def enter_fresh_account(endpoint: str, env: Any) -> str:
    """Point the environment's credentials at a new, empty moto account; return its id.

    moto maps ``sts:AssumeRole`` into a role of another account to that account's backends, so
    what other tests created in the default account stays out of the way. ``env`` is a
    ``pytest.MonkeyPatch``: the credentials are restored when it is undone."""
    import secrets

    from rightsizer.sources.aws import AwsOptions, make_aws_client

    account = f"{secrets.randbelow(9 * 10**11) + 10**11}"
    sts = make_aws_client("sts", AwsOptions(endpoint_url=endpoint))
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/rightsizer-tests", RoleSessionName="rightsizer-tests"
    )["Credentials"]
    env.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    env.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    env.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    env.setenv("AWS_SECURITY_TOKEN", credentials["SessionToken"])
    return account


def run_terraform(args: list[str], cwd: Path, stdin: str = "", timeout: float = 600
                  ) -> subprocess.CompletedProcess[str]:
    """The terraform CLI in ``cwd``, without telemetry or prompts."""
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return subprocess.run([shutil.which("terraform") or "terraform", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, check=False, env=env,
                          timeout=timeout)


def minimal_digest(key: str) -> bytes:
    """A CloudTrail digest file that lists no log file, as delivered (gzip)."""
    import gzip as _gzip

    return _gzip.compress(orjson.dumps({
        "awsAccountId": "111122223333", "digestStartTime": "2026-10-01T00:00:00Z",
        "digestEndTime": "2026-10-01T01:00:00Z", "digestS3Bucket": "bucket",
        "digestS3Object": key, "digestPublicKeyFingerprint": "00",
        "previousDigestSignature": None, "logFiles": []}))


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP endpoint of our own on 127.0.0.1 (a free port), serving ``handler`` in threads,
    for as long as the block runs: its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=handler.__name__, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
