"""rightsizer.sources.ecs: describe-task-definition files and folders, and the live API on moto.

The live tests run in a fresh moto account of their own (see test_iam_source.py). Errors ECS would
answer but moto cannot be made to (a describe that fails for one revision, an endpoint that
refuses DELETE_IN_PROGRESS as a filter) are injected by a small reverse proxy in front of moto,
the way tests/conftest.py's ``faulty_s3_endpoint`` does for S3: real HTTP, nothing patched.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import enter_fresh_account, serve_http

from rightsizer.errors import ConfigError, SourceError
from rightsizer.iam.ecs import parse_task_definition
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.ecs import TaskDefinitions, fetch_task_definitions, load_task_definitions

DATA = Path(__file__).parent.parent / "data" / "aws_cli"
SAMPLE = Path(__file__).parent.parent.parent / "sample_logs" / "ecs" / "task-definitions.json"
ACCT = "111122223333"


def td_arn(name: str, account: str = ACCT, region: str = "us-east-1") -> str:
    return f"arn:aws:ecs:{region}:{account}:task-definition/{name}"


def arns(result: TaskDefinitions) -> list[str]:
    return [t["taskDefinitionArn"] for t in result.task_definitions]


# --- files -------------------------------------------------------------------------------------


def test_one_describe_output() -> None:
    path = DATA / "ecs-describe-task-definition.json"
    result = load_task_definitions(path)
    assert result.source == f"file {path}"
    assert result.problems == ()
    assert arns(result) == [td_arn("orders-api:3")]
    raw = json.loads(path.read_text())["taskDefinition"]
    assert result.task_definitions[0] == raw  # the raw taskDefinition object, tags left out


def test_list_of_outputs_and_bare_task_definitions() -> None:
    result = load_task_definitions(DATA / "ecs-describe-task-definition-list.json")
    assert result.problems == ()
    assert arns(result) == [td_arn("billing:1"), td_arn("billing:2")]
    assert [t["status"] for t in result.task_definitions] == ["INACTIVE", "ACTIVE"]


def test_task_definitions_object_with_a_broken_entry() -> None:
    path = DATA / "ecs-task-definitions.json"
    result = load_task_definitions(path)
    assert arns(result) == [td_arn("billing:1"), td_arn("orders-api:3")]  # sorted by ARN
    [problem] = result.problems
    assert problem.uri == f"{path} taskDefinitions[1]"
    assert problem.reason.startswith("no taskDefinitionArn")


def test_folder_of_files() -> None:
    folder = DATA / "ecs-task-definitions"
    result = load_task_definitions(folder)
    assert result.source == f"folder {folder}"
    assert result.problems == ()
    assert arns(result) == [td_arn("orders-api:3"), td_arn("web:1")]


def test_folder_with_an_unreadable_file_reads_the_rest(tmp_path: Path) -> None:
    shutil.copytree(DATA / "ecs-task-definitions", tmp_path / "defs")
    (tmp_path / "defs" / "zz-broken.json").write_text("{not json")
    (tmp_path / "defs" / "iam.json").write_text('{"RoleDetailList": []}')
    (tmp_path / "defs" / "notes.txt").write_text("not read: not .json")
    (tmp_path / "defs" / ".hidden.json").write_text("{not read either")
    nested = tmp_path / "defs" / "billing"
    nested.mkdir()
    shutil.copy(DATA / "ecs-describe-task-definition-list.json", nested / "billing.json")

    result = load_task_definitions(tmp_path / "defs")
    assert arns(result) == [
        td_arn("billing:1"),
        td_arn("billing:2"),
        td_arn("orders-api:3"),
        td_arn("web:1"),
    ]
    problems = {Path(p.uri).name: p.reason for p in result.problems}
    assert set(problems) == {"zz-broken.json", "iam.json"}
    assert problems["zz-broken.json"].startswith("not JSON")
    assert problems["iam.json"].startswith("no taskDefinition, taskDefinitions or")


def test_outputs_appended_to_one_file(tmp_path: Path) -> None:
    # `aws ecs describe-task-definition ... >> all.json` for several revisions.
    path = tmp_path / "all.json"
    path.write_text(
        (DATA / "ecs-describe-task-definition.json").read_text()
        + (DATA / "ecs-task-definitions" / "web-1.json").read_text()
    )
    result = load_task_definitions(path)
    assert result.problems == ()
    assert arns(result) == [td_arn("orders-api:3"), td_arn("web:1")]


def test_a_repeated_arn_is_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    one = json.loads((DATA / "ecs-describe-task-definition.json").read_text())
    path.write_text(json.dumps([one, one["taskDefinition"]]))
    assert arns(load_task_definitions(path)) == [td_arn("orders-api:3")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not JSON"),
        (b"", "empty file"),
        (b'{"taskDefinitionArns": ["arn:aws:ecs:x"]}', "no taskDefinition, taskDefinitions or"),
        (b'"a string"', "no taskDefinition, taskDefinitions or"),
    ],
)
def test_unusable_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "defs.json"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        load_task_definitions(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_task_definitions(tmp_path / "nope.json")
    with pytest.raises(SourceError, match=r"no \.json files"):
        load_task_definitions(tmp_path)


def test_wrong_entries_in_a_list(tmp_path: Path) -> None:
    path = tmp_path / "defs.json"
    good = json.loads((DATA / "ecs-describe-task-definition.json").read_text())
    bad_containers = dict(good["taskDefinition"], containerDefinitions={"app": {}})
    path.write_text(json.dumps([good, 7, {"taskDefinition": bad_containers}]))
    result = load_task_definitions(path)
    assert arns(result) == [td_arn("orders-api:3")]
    assert [p.uri for p in result.problems] == [f"{path}[1]", f"{path}[2] taskDefinition"]
    assert "containerDefinitions is missing or not a list" in result.problems[1].reason


def test_sample_logs_file_loads_and_parses() -> None:
    result = load_task_definitions(SAMPLE)
    assert result.problems == ()
    assert len(result.task_definitions) == 8
    statuses = {t["taskDefinitionArn"].split("/")[-1]: t["status"] for t in result.task_definitions}
    assert statuses["orders-api:1"] == "INACTIVE"
    assert all(parse_task_definition(t).needs for t in result.task_definitions)


def test_fixture_files_parse() -> None:
    for path in sorted(DATA.glob("ecs-*")):
        for raw in load_task_definitions(path).task_definitions:
            assert parse_task_definition(raw).arn == raw["taskDefinitionArn"]


# --- live, against moto ------------------------------------------------------------------------

REGION = "eu-west-3"



def container(account: str, name: str, repo: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"{account}.dkr.ecr.{REGION}.amazonaws.com/{repo}:1",
        "memory": 256,
        "secrets": [{"name": "DB", "valueFrom": f"/{repo}/db"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": f"/ecs/{repo}", "awslogs-region": REGION},
        },
    }


class _FaultyEcs(BaseHTTPRequestHandler):
    """Forwards to moto, except: an ECS call whose X-Amz-Target ends in one of ``rules``' operations
    and whose JSON body holds that rule's marker gets a 400 with that rule's error code."""

    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int] = ("127.0.0.1", 0)
    rules: tuple[tuple[str, bytes, str], ...] = ()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        for operation, marker, code in self.rules:
            if target.endswith(f".{operation}") and marker in body:
                self._answer(
                    400,
                    [("Content-Type", "application/x-amz-json-1.1")],
                    json.dumps(
                        {"__type": code, "message": f"injected {code} for {operation}"}
                    ).encode(),
                )
                return
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            upstream.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in {"expect", "connection"}:
                    upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            headers = [
                (n, v)
                for n, v in response.getheaders()
                if n.lower() not in {"connection", "transfer-encoding", "content-length"}
            ]
            self._answer(response.status, headers, data)
        finally:
            upstream.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def faulty_ecs(moto_server: str) -> Iterator[Any]:
    """``start(rules) -> endpoint URL`` of a fault-injecting proxy in front of moto."""
    target = urlsplit(moto_server)
    with ExitStack() as servers:

        def start(rules: tuple[tuple[str, bytes, str], ...]) -> str:
            handler = type(
                "FaultyEcsHandler",
                (_FaultyEcs,),
                {"upstream": (target.hostname, target.port), "rules": rules},
            )
            return servers.enter_context(serve_http(handler))

        yield start


@pytest.fixture(scope="module")
def live_account(moto_server: str) -> Iterator[tuple[str, Any]]:
    """A fresh account with two families in REGION: orders:1 (deregistered, INACTIVE),
    orders:2, billing:2 (billing:1 deregistered and deleted), poison-pill:1.
    Yields ``(account, ecs client)`` with the environment's credentials in that account."""
    with pytest.MonkeyPatch.context() as env:
        account = enter_fresh_account(moto_server, env)
        ecs = make_aws_client("ecs", AwsOptions(endpoint_url=moto_server, region=REGION))
        for family, repo in (("orders", "orders-api"), ("billing", "billing")):
            for _ in range(2):
                ecs.register_task_definition(
                    family=family,
                    executionRoleArn="ecsTaskExecutionRole",
                    taskRoleArn=f"arn:aws:iam::{account}:role/ecs/{family}-task",
                    containerDefinitions=[container(account, "app", repo)],
                    tags=[{"key": "team", "value": family}],
                )
        ecs.deregister_task_definition(taskDefinition="orders:1")
        ecs.deregister_task_definition(taskDefinition="billing:1")
        ecs.delete_task_definitions(taskDefinitions=["billing:1"])
        ecs.register_task_definition(
            family="poison-pill", containerDefinitions=[container(account, "app", "poison")]
        )
        yield account, ecs


def test_live_every_revision_active_and_inactive(
    live_account: tuple[str, Any], moto_server: str
) -> None:
    account, ecs = live_account
    result = fetch_task_definitions(AwsOptions(endpoint_url=moto_server, region=REGION))

    assert result.source == f"aws account {account}/default ecs {REGION}"
    assert result.problems == ()
    assert arns(result) == [
        td_arn("billing:2", account, REGION),
        td_arn("orders:1", account, REGION),
        td_arn("orders:2", account, REGION),
        td_arn("poison-pill:1", account, REGION),
    ]
    statuses = {
        t["taskDefinitionArn"].rsplit("/", 1)[1]: t["status"] for t in result.task_definitions
    }
    assert statuses == {
        "billing:2": "ACTIVE",
        "orders:1": "INACTIVE",
        "orders:2": "ACTIVE",
        "poison-pill:1": "ACTIVE",
    }
    # Raw: exactly the taskDefinition object DescribeTaskDefinition answers.
    described = ecs.describe_task_definition(taskDefinition="orders:1")["taskDefinition"]
    assert result.task_definitions[1] == described

    parsed = parse_task_definition(result.task_definitions[1])
    assert parsed.execution_role_arn == f"arn:aws:iam::{account}:role/ecsTaskExecutionRole"
    assert any(n.resource.endswith(":repository/orders-api") for n in parsed.needs)


def test_live_failed_describe_is_a_problem(live_account: tuple[str, Any], faulty_ecs: Any) -> None:
    account, _ = live_account
    endpoint = faulty_ecs((("DescribeTaskDefinition", b"poison-pill", "ClientException"),))
    result = fetch_task_definitions(
        AwsOptions(endpoint_url=endpoint, region=REGION, max_attempts=0)
    )
    poisoned = td_arn("poison-pill:1", account, REGION)
    assert poisoned not in arns(result)
    assert len(result.task_definitions) == 3
    assert [p.uri for p in result.problems] == [poisoned]
    assert result.problems[0].reason == (
        "DescribeTaskDefinition failed: ClientException: "
        "injected ClientException for DescribeTaskDefinition"
    )


def test_live_delete_in_progress_filter_refused_is_skipped(
    live_account: tuple[str, Any], faulty_ecs: Any
) -> None:
    endpoint = faulty_ecs(
        (("ListTaskDefinitions", b"DELETE_IN_PROGRESS", "InvalidParameterException"),)
    )
    result = fetch_task_definitions(
        AwsOptions(endpoint_url=endpoint, region=REGION, max_attempts=0)
    )
    assert result.problems == ()
    assert len(result.task_definitions) == 4


def test_live_listing_error_is_a_source_error(
    live_account: tuple[str, Any], faulty_ecs: Any
) -> None:
    endpoint = faulty_ecs((("ListTaskDefinitions", b"INACTIVE", "AccessDeniedException"),))
    with pytest.raises(SourceError, match=r"^ECS: AccessDeniedException: injected"):
        fetch_task_definitions(AwsOptions(endpoint_url=endpoint, region=REGION, max_attempts=0))


def test_live_unreachable_endpoint_is_a_source_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = AwsOptions(endpoint_url=f"http://127.0.0.1:{port}", region=REGION, max_attempts=0)
    with pytest.raises(SourceError, match=r"^ECS: EndpointConnectionError"):
        fetch_task_definitions(options)


def test_live_without_a_region_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError, match="no AWS region"):
        fetch_task_definitions(AwsOptions(endpoint_url="http://127.0.0.1:9"))
