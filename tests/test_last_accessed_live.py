"""IAM's last-accessed data read live (issue 16): one ACTION_LEVEL job per role, all started,
then polled until done, every page read. moto has neither API, so a small IAM endpoint of our own
serves them over HTTP in IAM's query protocol, from the simulator's data
(sample_logs/iam/last-accessed.json): a job runs for one poll, answers in two pages, and one
role cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
from helpers import serve_http

from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.last_accessed import fetch_last_accessed

ROOT = Path(__file__).resolve().parents[1]
DATA = json.loads((ROOT / "sample_logs" / "iam" / "last-accessed.json").read_text())
BROKEN = "arn:aws:iam::883921282152:role/gone"
NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def _xml(value: Any, name: str) -> str:
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml(v, "member") for v in value) + f"</{name}>"
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(v, k) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, bool):
        value = str(value).lower()
    return f"<{name}>{escape(str(value))}</{name}>"


# The credentials the endpoint's AssumeRole hands out (STS's query protocol,
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), and the account of
# the caller's own credentials.
ASSUMED_KEY, CALLER_ACCOUNT = "ASIAMEMBERREADER0001", "123456789012"


class _Iam(BaseHTTPRequestHandler):
    """IAM's two last-accessed calls, and STS's GetCallerIdentity and AssumeRole: enough for a
    run to read the second witness of member accounts through an assumed role."""

    polled: ClassVar[set[str]] = set()
    keys: ClassVar[list[tuple[str, str]]] = []  # (action, access key id that signed it)
    assumed: ClassVar[list[str]] = []  # role ARNs assumed

    def do_POST(self) -> None:
        form = {k: v[0] for k, v in parse_qs(
            self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        action = form["Action"]
        credential = self.headers.get("Authorization", "").split("Credential=")[-1]
        self.keys.append((action, credential.split("/")[0]))
        if action == "GetCallerIdentity":
            return self._result(action, {"UserId": "AIDA", "Account": CALLER_ACCOUNT,
                                         "Arn": f"arn:aws:iam::{CALLER_ACCOUNT}:user/job"})
        if action == "AssumeRole":
            self.assumed.append(form["RoleArn"])
            return self._result(action, {"Credentials": {
                "AccessKeyId": ASSUMED_KEY, "SecretAccessKey": "secret", "SessionToken": "token",
                "Expiration": "2099-01-01T00:00:00Z"}, "AssumedRoleUser": {
                "AssumedRoleId": "AROA:rightsizer-inventory", "Arn": form["RoleArn"]}})
        if action == "GenerateServiceLastAccessedDetails":
            arn = form["Arn"]
            if arn not in DATA:
                return self._send(404, f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type>'
                                       "<Code>NoSuchEntity</Code><Message>The role with name "
                                       f"{escape(arn)} cannot be found.</Message></Error>"
                                       "<RequestId>1</RequestId></ErrorResponse>")
            return self._result(action, {"JobId": f"job:{arn}"})
        job = form["JobId"]
        arn = job.removeprefix("job:")
        if job not in self.polled:  # the first poll finds it running
            self.polled.add(job)
            return self._result(action, {"JobStatus": "IN_PROGRESS", "JobType": "ACTION_LEVEL",
                                         "JobCreationDate": "2026-11-01T00:00:00Z",
                                         "ServicesLastAccessed": [], "IsTruncated": False})
        output = dict(DATA[arn])
        services = output["ServicesLastAccessed"]
        half = len(services) // 2
        if "Marker" in form:  # the second page
            output.update(ServicesLastAccessed=services[half:], IsTruncated=False)
        else:
            output.update(ServicesLastAccessed=services[:half], IsTruncated=True, Marker="page2")
        return self._result(action, output)

    def _result(self, action: str, body: dict[str, Any]) -> None:
        self._send(200, f'<{action}Response xmlns="{NS}">' + _xml(body, f"{action}Result")
                   + f"<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
                   f"</{action}Response>")

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def iam_endpoint() -> Iterator[str]:
    _Iam.polled, _Iam.keys, _Iam.assumed = set(), [], []
    with serve_http(_Iam) as url:
        yield url


def test_jobs_are_started_polled_and_read_page_by_page(iam_endpoint: str) -> None:
    roles = sorted(DATA)
    found, failed = fetch_last_accessed(AwsOptions(endpoint_url=iam_endpoint),
                                        [*roles, BROKEN], poll_seconds=0.01, timeout=10)
    assert sorted(found) == roles
    assert [arn for arn, _ in failed] == [BROKEN]
    assert "NoSuchEntity" in failed[0][1]
    for arn in roles:  # both pages, merged
        assert set(found[arn].services) == {
            s["ServiceNamespace"] for s in DATA[arn]["ServicesLastAccessed"]}
    reports = next(a for a in roles if a.endswith("/reports-batch-task"))
    assert found[reports].services["s3"].actions["putlifecycleconfiguration"] is not None


def test_a_run_reads_the_second_witness_live(iam_endpoint: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import rightsizer
    from rightsizer.settings import load_settings

    monkeypatch.chdir(ROOT)
    result = rightsizer.run(
        logs=["sample_logs/cloudtrail"], iam="sample_logs/iam/authorization-details.json",
        ecs="sample_logs/ecs/task-definitions.json", out=tmp_path / "out",
        db=tmp_path / "s.duckdb", trail_files=["sample_logs/trail/event-selectors.json"],
        settings=load_settings(None, env={}, flags={"sources.last_accessed": "aws"}),
        aws=AwsOptions(endpoint_url=iam_endpoint), workers=1)
    summary = json.loads((result.out / "summary.json").read_text())
    reports = next(r for r in summary["roles"] if r["name"] == "reports-batch-task")
    assert [k["action"] for k in reports["kept_used_per_iam"]] == [
        "s3:PutLifecycleConfiguration"]
    assert result.problems == ()


def test_a_run_over_member_accounts_reads_each_ones_witness_with_its_assumed_role(
        iam_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--account and --assume-role: the sample's account is a member; its roles' last-accessed
    data is read with the credentials of the role assumed there, not the caller's."""
    import rightsizer
    from rightsizer.settings import load_settings

    monkeypatch.chdir(ROOT)
    member = "883921282152"
    result = rightsizer.run(
        logs=["sample_logs/cloudtrail"], iam="sample_logs/iam/authorization-details.json",
        ecs="sample_logs/ecs/task-definitions.json", out=tmp_path / "out",
        db=tmp_path / "s.duckdb", trail_files=["sample_logs/trail/event-selectors.json"],
        settings=load_settings(None, env={}, flags={
            "sources.last_accessed": "aws", "aws.accounts": (member,),
            "aws.assume_role": "rightsizer-read"}),
        aws=AwsOptions(endpoint_url=iam_endpoint), workers=1)
    summary = json.loads((result.out / "summary.json").read_text())
    reports = next(r for r in summary["roles"] if r["name"] == "reports-batch-task")
    assert [k["action"] for k in reports["kept_used_per_iam"]] == [
        "s3:PutLifecycleConfiguration"]
    assert _Iam.assumed == [f"arn:aws:iam::{member}:role/rightsizer-read"]
    iam_keys = {key for action, key in _Iam.keys if "LastAccessed" in action}
    assert iam_keys == {ASSUMED_KEY}
    assert result.problems == ()
