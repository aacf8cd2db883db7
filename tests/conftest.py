"""Shared fixtures.

S3: a moto server over real HTTP (``moto_server``), a fresh bucket per test (``s3_bucket``), and an
error-injecting reverse proxy in front of moto (``faulty_s3_endpoint``). Tests talk to these through
``rightsizer.sources.s3.make_client``; nothing is patched and ``mock_aws`` is not used.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest
from helpers import serve_http

# Requests whose URL-decoded target (path and query, so listing prefixes count too) holds this
# marker are answered by ``faulty_s3_endpoint`` with a 500 InternalError, every time.
POISON = "/poison/"

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never read a developer's real profiles, and never send local traffic to an HTTP proxy.
    "AWS_CONFIG_FILE": "/nonexistent/rightsizer-tests/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/rightsizer-tests/aws-credentials",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


# Tests never reach real AWS: dummy credentials from the start, so that every process the tests
# start (ingest's worker processes included) inherits them.
for _name, _value in _FAKE_AWS_ENV.items():
    os.environ[_name] = _value
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) for the whole session; yields its endpoint URL.

    Dummy AWS credentials and region are set in the environment while it runs."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        for name, value in _FAKE_AWS_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(moto_server: str) -> tuple[Any, str]:
    """A fresh, uniquely named, empty bucket: ``(client, bucket_name)``."""
    from rightsizer.sources.s3 import S3Options, make_client

    client = make_client(S3Options(endpoint_url=moto_server))
    name = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return client, name


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
}

_POISON_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>InternalError</Code>"
    "<Message>We encountered an internal error. Please try again.</Message>"
    "<Resource>{resource}</Resource><RequestId>POISONED0000000</RequestId></Error>"
)


# What STS answers an AssumeRole the role's trust policy does not allow
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, Errors; the query
# protocol's error shape).
_DENIED_BODY = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/moto is not "
    "authorized to perform: sts:AssumeRole on this resource</Message></Error>"
    "<RequestId>DENIED0000000</RequestId></ErrorResponse>"
)


class _FaultyProxy(BaseHTTPRequestHandler):
    """Forwards each request to moto unchanged, except the poisoned ones (500 InternalError).

    The only header dropped on the way is ``Expect: 100-continue`` (the proxy has already read the
    body); ``Host`` is kept, so the request moto sees is the one boto signed."""

    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int] = ("127.0.0.1", 0)
    # STS AssumeRole requests whose decoded body holds one of these are refused (AccessDenied).
    denied_assume: ClassVar[list[str]] = []
    # ... and ECS calls signed with credentials of an AssumeRole whose body holds one of these.
    denied_ecs: ClassVar[list[str]] = []
    assumed: ClassVar[list[str]] = []  # the role ARN of every AssumeRole that came by
    _ecs_denied_keys: ClassVar[set[str]] = set()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = bytearray()  # forwarded still chunk-encoded, with its Transfer-Encoding header
            while True:
                line = self.rfile.readline()
                raw += line
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline()
                        raw += trailer
                        if trailer in (b"\r\n", b"\n", b""):
                            return bytes(raw)
                raw += self.rfile.read(size + 2)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        form = unquote(body.decode("utf-8", "replace"))
        if "Action=AssumeRole" in form:
            self.assumed.extend(parse_qs(body.decode("utf-8", "replace")).get("RoleArn", []))
        if "Action=AssumeRole" in form and any(m in form for m in self.denied_assume):
            return self._refuse(403, "Forbidden", "text/xml", _DENIED_BODY.encode())
        target = self.headers.get("X-Amz-Target", "")
        signer = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")[0]
        if target.startswith("AmazonEC2ContainerService") and signer in self._ecs_denied_keys:
            return self._refuse(400, "Bad Request", "application/x-amz-json-1.1", orjson.dumps(
                {"__type": "AccessDeniedException",
                 "message": "not authorized to perform: ecs:*"}))
        if POISON in unquote(self.path):
            return self._refuse(500, "Internal Server Error", "application/xml",
                                _POISON_BODY.format(resource=urlsplit(self.path).path).encode())
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() != "expect":
                    upstream.putheader(name, value)
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            data = response.read()
            headers = response.getheaders()
            status, reason = response.status, response.reason
        finally:
            upstream.close()
        if "Action=AssumeRole" in form and any(m in form for m in self.denied_ecs):
            found = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
            if found:
                self._ecs_denied_keys.add(found.group(1).decode())
        self.send_response_only(status, reason)
        length = str(len(data))
        for name, value in headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _refuse(self, status: int, reason: str, content_type: str, payload: bytes) -> None:
        """Answer the request here, as the service would refuse it."""
        self.send_response_only(status, reason)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="session")
def faulty_s3_endpoint(moto_server: str) -> Iterator[str]:
    """Endpoint URL of a reverse proxy in front of ``moto_server`` that answers every request
    whose decoded target contains ``"/poison/"`` with ``500 InternalError`` (an S3 XML error), so
    the error survives boto's retries. Use a client with a small ``max_attempts``."""
    yield from _proxy(moto_server, [], [], [])


@dataclass
class Refusing:
    """A proxy in front of moto that refuses what real accounts sometimes do."""

    url: str
    assume: list[str]  # AssumeRole of a role ARN holding one of these: AccessDenied
    ecs: list[str]  # ECS calls with the credentials of such an AssumeRole: AccessDenied
    assumed: list[str]  # the role ARN of every AssumeRole asked for


@pytest.fixture
def refusing_endpoint(moto_server: str) -> Iterator[Refusing]:
    """A proxy in front of ``moto_server`` (moto lets any role be assumed and read anything)
    that refuses, as STS and ECS do, what the yielded lists name: a member account whose role
    cannot be assumed, or whose role may not read ECS."""
    assume: list[str] = []
    ecs: list[str] = []
    assumed: list[str] = []
    for url in _proxy(moto_server, assume, ecs, assumed):
        yield Refusing(url, assume, ecs, assumed)


def _proxy(moto_server: str, denied_assume: list[str], denied_ecs: list[str],
           assumed: list[str]) -> Iterator[str]:
    target = urlsplit(moto_server)
    handler = type(
        "FaultyProxyHandler",
        (_FaultyProxy,),
        {"upstream": (target.hostname or "127.0.0.1", target.port or 80),
         "denied_assume": denied_assume, "denied_ecs": denied_ecs, "assumed": assumed,
         "_ecs_denied_keys": set()},
    )
    with serve_http(handler) as url:
        yield url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite tests/golden/ from this run instead of comparing with it.")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium to test with; fails under CI when there is none, skips elsewhere."""
    from rightsizer.report.pdf import find_chromium

    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "Chromium is missing but CI is set: scripts/install-test-tools.sh (run by "
                ".ci/run) should have installed it (apt-get install chromium), or set "
                "RIGHTSIZER_CHROMIUM=/path/to/chrome"
            )
        pytest.skip(
            "Chromium not found (install it: apt-get install chromium, or set "
            "RIGHTSIZER_CHROMIUM); CI installs it and runs these tests"
        )
    return found


EVALUATOR = Path(__file__).parent / "reference_evaluator"


@pytest.fixture(scope="session")
def simulate() -> Callable[[list[dict[str, Any]]], list[str]]:
    """@cloud-copilot/iam-simulate over JSON lines (tests/reference_evaluator/simulate.mjs): an
    IAM evaluator nobody here wrote. Skipped without node, failed in CI."""
    node = shutil.which("node")
    installed = (EVALUATOR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir()
    if not node or not installed:
        message = ("node and @cloud-copilot/iam-simulate are needed: npm install --prefix "
                   "tests/reference_evaluator (scripts/install-test-tools.sh does it)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    def run(cases: list[dict[str, Any]]) -> list[str]:
        proc = subprocess.run([node, "simulate.mjs"], cwd=EVALUATOR, capture_output=True,
                              text=True, timeout=600,
                              input="\n".join(json.dumps(c) for c in cases) + "\n")
        assert proc.returncode == 0, proc.stderr
        results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        assert len(results) == len(cases)
        errors = [r for r in results if r["result"] == "Error"]
        assert not errors, errors[:3]
        return [r["result"] for r in results]

    return run
