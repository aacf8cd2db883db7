"""rightsizer.sources.iam: `get-account-authorization-details` files, and the live API on moto.

Files in tests/data/aws_cli/ are shaped like AWS CLI v2 output. The live tests run against the
session's moto server over HTTP, each module in a fresh account of its own (credentials from
``sts:AssumeRole`` into a random account id, which moto maps back to that account), so what other
tests create in moto's default account never shows up here.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from helpers import enter_fresh_account

from rightsizer.errors import SourceError
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.iam import (
    AuthorizationDetails,
    fetch_authorization_details,
    fetch_managed_policy,
    load_authorization_details,
)
from rightsizer.sources.locate import BadInput

DATA = Path(__file__).parent.parent / "data" / "aws_cli"
SAMPLE = Path(__file__).parent.parent.parent / "sample_logs" / "iam" / "authorization-details.json"
ACCT = "111122223333"
EXEC_ROLE = f"arn:aws:iam::{ACCT}:role/ecsTaskExecutionRole"
TASK_ROLE = f"arn:aws:iam::{ACCT}:role/ecs/orders-task"
LAMBDA_ROLE = f"arn:aws:iam::{ACCT}:role/service-role/thumbnailer-role"
ORDERS_POLICY = f"arn:aws:iam::{ACCT}:policy/app/orders-access"
BOUNDARY = f"arn:aws:iam::{ACCT}:policy/boundaries/ecs-boundary"
AWS_EXEC_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def roles_by_arn(details: AuthorizationDetails) -> dict[str, Any]:
    return {role.arn: role for role in details.roles}


# --- files -------------------------------------------------------------------------------------


def test_one_page_file() -> None:
    path = DATA / "iam-authorization-details.json"
    details = load_authorization_details(path)

    assert details.source == f"file {path}"
    assert details.problems == ()
    assert [r.arn for r in details.roles] == sorted([EXEC_ROLE, TASK_ROLE, LAMBDA_ROLE])

    roles = roles_by_arn(details)
    execution = roles[EXEC_ROLE]
    assert execution.name == "ecsTaskExecutionRole"
    assert execution.path == "/"
    assert execution.role_id == "AROAQXXEXAMPLEEXEC001"
    assert execution.create_date == "2024-03-04T10:11:12+00:00"
    assert execution.trust_policy["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }
    assert [name for name, _ in execution.inline_policies] == ["kms", "secrets"]  # sorted by name
    assert dict(execution.inline_policies)["kms"]["Statement"][0]["Action"] == "kms:Decrypt"
    assert execution.attached_policy_arns == (AWS_EXEC_POLICY,)
    assert execution.boundary_arn is None
    assert execution.tags == ()
    assert execution.last_used == "2026-10-30T21:04:05+00:00"

    task = roles[TASK_ROLE]
    assert task.path == "/ecs/"
    assert task.attached_policy_arns == (ORDERS_POLICY,)
    assert task.boundary_arn == BOUNDARY
    assert task.tags == (("env", "prod"), ("team", "orders"))  # sorted
    assert task.last_used is None  # RoleLastUsed: {} -> never used in the tracking period


def test_url_encoded_documents_are_kept_as_they_came() -> None:
    details = load_authorization_details(DATA / "iam-authorization-details.json")
    trust = roles_by_arn(details)[TASK_ROLE].trust_policy
    assert isinstance(trust, str)
    assert trust.startswith("%7B%22Version%22")  # still encoded: parsing is rightsizer.iam's job
    decoded = json.loads(unquote(trust))
    assert decoded["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCT}


def test_only_the_default_policy_version_counts() -> None:
    details = load_authorization_details(DATA / "iam-authorization-details.json")
    orders = details.policies[ORDERS_POLICY]
    assert orders.name == "orders-access"
    assert orders.default_version_id == "v2"
    assert orders.document["Statement"][0]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert "dynamodb:*" not in json.dumps(orders.document)  # v3, not the default
    assert orders.aws_managed is False

    aws = details.policies[AWS_EXEC_POLICY]
    assert aws.aws_managed is True
    assert "ecr:BatchGetImage" in aws.document["Statement"][0]["Action"]
    assert details.policies[BOUNDARY].document["Statement"][1]["Effect"] == "Deny"
    assert list(details.policies) == sorted(details.policies)


def test_policies_mapping_is_read_only() -> None:
    details = load_authorization_details(DATA / "iam-authorization-details.json")
    with pytest.raises(TypeError):
        details.policies["arn:aws:iam::aws:policy/x"] = details.policies[ORDERS_POLICY]  # type: ignore[index]


@pytest.mark.parametrize(
    "name",
    [
        "iam-authorization-details-pages.json",  # a JSON list of API pages
        "iam-authorization-details-cli-pages.json",  # --max-items / --starting-token, appended
    ],
)
def test_several_pages_read_as_one(name: str) -> None:
    whole = load_authorization_details(DATA / "iam-authorization-details.json")
    pages = load_authorization_details(DATA / name)
    assert pages.problems == ()
    assert pages.roles == whole.roles
    assert dict(pages.policies) == dict(whole.policies)


def test_truncated_output_is_a_problem_and_the_rest_is_read() -> None:
    path = DATA / "iam-authorization-details-truncated.json"
    details = load_authorization_details(path)
    assert [r.arn for r in details.roles] == [EXEC_ROLE]
    assert len(details.problems) == 1
    assert details.problems[0].uri == str(path)
    assert "truncated" in details.problems[0].reason


def test_broken_entries_are_problems_and_the_rest_is_read() -> None:
    path = DATA / "iam-authorization-details-broken.json"
    details = load_authorization_details(path)

    assert sorted(r.name for r in details.roles) == [
        "ecsTaskExecutionRole",
        "orders-task",
        "uses-missing-policy",
    ]
    assert sorted(details.policies) == sorted([ORDERS_POLICY, BOUNDARY, AWS_EXEC_POLICY])
    assert all(isinstance(p, BadInput) for p in details.problems)
    problems = {p.uri.removeprefix(f"{path} "): p.reason for p in details.problems}
    assert problems == {
        "RoleDetailList[1] (role id AROAQXXEXAMPLEBROK004)": "RoleName is missing",
        f"RoleDetailList[3] (arn:aws:iam::{ACCT}:role/bad-inline)": (
            "RolePolicyList[0].PolicyDocument is null, not a policy document"
        ),
        f"Policies[1] (arn:aws:iam::{ACCT}:policy/lost-default)": (
            "default version v4 is not in PolicyVersionList"
        ),
        f"Policies[3] (arn:aws:iam::{ACCT}:policy/disagrees)": (
            "DefaultVersionId is v1 but PolicyVersionList marks v2 as the default"
        ),
        f"policy arn:aws:iam::{ACCT}:policy/not-exported": (
            "attached to uses-missing-policy but not in Policies (was the output made without "
            "the LocalManagedPolicy and AWSManagedPolicy filters?)"
        ),
    }


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(SourceError, match=rf"^{path}: no such file$"):
        load_authorization_details(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"RoleDetailList": [', "not JSON"),
        (b"RoleName,Arn\nx,y\n", "not JSON"),
        (b"\xff\xfe\xfa", "not JSON"),
        (b"   \n", "empty file"),
        (b'{"taskDefinitions": []}', "no RoleDetailList"),
        (b"[1, 2]", "no RoleDetailList"),
    ],
)
def test_unusable_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "details.json"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        load_authorization_details(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a folder"):
        load_authorization_details(tmp_path)


def test_utf16_file_from_powershell(tmp_path: Path) -> None:
    # PowerShell 5's `>` writes UTF-16 with a byte order mark.
    text = (DATA / "iam-authorization-details.json").read_text()
    path = tmp_path / "details.json"
    path.write_bytes(text.encode("utf-16"))
    assert load_authorization_details(path).roles == (
        load_authorization_details(DATA / "iam-authorization-details.json").roles
    )


def test_path_is_derived_from_the_arn_when_absent(tmp_path: Path) -> None:
    page = json.loads((DATA / "iam-authorization-details.json").read_text())
    for role in page["RoleDetailList"]:
        del role["Path"]
    path = tmp_path / "details.json"
    path.write_text(json.dumps(page))
    paths = {r.arn: r.path for r in load_authorization_details(path).roles}
    assert paths == {EXEC_ROLE: "/", TASK_ROLE: "/ecs/", LAMBDA_ROLE: "/service-role/"}


def test_sample_logs_file() -> None:
    details = load_authorization_details(SAMPLE)
    assert details.problems == ()
    assert len(details.roles) == 15
    assert len(details.policies) == 8
    roles = {r.name: r for r in details.roles}
    assert isinstance(roles["reports-batch-task"].trust_policy, str)  # URL-encoded in the sample
    assert roles["reports-batch-task"].boundary_arn == (
        "arn:aws:iam::883921282152:policy/boundaries/ecs-task-boundary"
    )
    shared = details.policies["arn:aws:iam::883921282152:policy/app/orders-shared-access"]
    assert shared.default_version_id == "v2"
    assert details.policies[AWS_EXEC_POLICY].aws_managed is True


def test_the_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "details.json"
    shutil.copy(DATA / "iam-authorization-details.json", path)
    before = path.read_bytes()
    load_authorization_details(path)
    assert path.read_bytes() == before


# --- live, against moto ------------------------------------------------------------------------

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
V1 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
V2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
}
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
}
BOUNDARY_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}],
}



@pytest.fixture(scope="module")
def live(moto_server: str) -> Iterator[tuple[str, Any, AuthorizationDetails]]:
    """A fresh account with AWS managed policies loaded, roles and policies in it, and the result
    of one ``fetch_authorization_details``: ``(account, iam client, details)``.

    moto loads its copy of the AWS managed policies into an account's IAM backend only when
    ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is set as that backend is created; the session's server
    runs in this process (ThreadedMotoServer), so the variable is set just around the creation of
    this module's account. The default account is touched first so that it is not the one to
    load them."""
    options = AwsOptions(endpoint_url=moto_server)
    with pytest.MonkeyPatch.context() as env:
        make_aws_client("iam", options).list_roles()  # the default account exists already
        env.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        account = enter_fresh_account(moto_server, env)
        iam = make_aws_client("iam", options)
        iam.list_roles()
        env.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES")

        boundary = iam.create_policy(
            PolicyName="ecs-boundary", Path="/boundaries/", PolicyDocument=json.dumps(BOUNDARY_DOC)
        )["Policy"]["Arn"]
        policy = iam.create_policy(
            PolicyName="orders-access", Path="/app/", PolicyDocument=json.dumps(V1)
        )["Policy"]["Arn"]
        iam.create_policy_version(
            PolicyArn=policy, PolicyDocument=json.dumps(V2), SetAsDefault=True
        )
        iam.create_role(
            RoleName="orders-task",
            Path="/ecs/",
            AssumeRolePolicyDocument=json.dumps(TRUST),
            PermissionsBoundary=boundary,
            Tags=[{"Key": "team", "Value": "orders"}],
        )
        iam.put_role_policy(
            RoleName="orders-task", PolicyName="queue", PolicyDocument=json.dumps(INLINE)
        )
        iam.attach_role_policy(RoleName="orders-task", PolicyArn=policy)
        iam.attach_role_policy(RoleName="orders-task", PolicyArn=AWS_EXEC_POLICY)
        iam.create_role(RoleName="plain", AssumeRolePolicyDocument=json.dumps(TRUST))
        # moto lets an attached policy be deleted (IAM answers DeleteConflict): a policy that is
        # attached, missing from the listing and not found by GetPolicy either.
        gone = iam.create_policy(PolicyName="gone", PolicyDocument=json.dumps(V1))["Policy"]["Arn"]
        iam.create_role(RoleName="orphan", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.attach_role_policy(RoleName="orphan", PolicyArn=gone)
        iam.delete_policy(PolicyArn=gone)

        yield account, iam, fetch_authorization_details(options)


def test_live_roles(live: tuple[str, Any, AuthorizationDetails]) -> None:
    account, _, details = live
    assert details.source == f"aws account {account}/default"
    assert [r.arn for r in details.roles] == [
        f"arn:aws:iam::{account}:role/ecs/orders-task",
        f"arn:aws:iam::{account}:role/orphan",
        f"arn:aws:iam::{account}:role/plain",
    ]
    role = details.roles[0]
    assert (role.name, role.path) == ("orders-task", "/ecs/")
    assert role.trust_policy == TRUST  # boto3 hands documents over decoded
    assert role.inline_policies == (("queue", INLINE),)
    assert role.attached_policy_arns == (
        f"arn:aws:iam::{account}:policy/app/orders-access",
        AWS_EXEC_POLICY,
    )
    assert role.boundary_arn == f"arn:aws:iam::{account}:policy/boundaries/ecs-boundary"
    assert role.tags == (("team", "orders"),)
    assert role.role_id and role.role_id.startswith("AROA")
    assert role.create_date is not None and role.create_date[:2] == "20"  # ISO text, not datetime


def test_live_policies_default_version_and_both_filters(
    live: tuple[str, Any, AuthorizationDetails],
) -> None:
    account, _, details = live
    orders = details.policies[f"arn:aws:iam::{account}:policy/app/orders-access"]
    assert orders.default_version_id == "v2"
    assert orders.document == V2
    assert orders.aws_managed is False
    assert details.policies[f"arn:aws:iam::{account}:policy/boundaries/ecs-boundary"].document == (
        BOUNDARY_DOC
    )
    # Listed only because the AWSManagedPolicy filter is asked for too (DOMAIN.md section 7).
    aws = details.policies[AWS_EXEC_POLICY]
    assert aws.aws_managed is True
    assert "ecr:GetAuthorizationToken" in aws.document["Statement"][0]["Action"]


def test_live_attached_policy_that_cannot_be_found_is_a_problem(
    live: tuple[str, Any, AuthorizationDetails],
) -> None:
    account, _, details = live
    gone = f"arn:aws:iam::{account}:policy/gone"
    assert gone not in details.policies
    assert [p.uri for p in details.problems] == [f"IAM policy {gone}"]
    reason = details.problems[0].reason
    assert reason.startswith("attached to orphan, not in the listing, and GetPolicy failed: ")
    assert "NoSuchEntity" in reason


def test_fetch_managed_policy_reads_the_default_version(
    live: tuple[str, Any, AuthorizationDetails],
) -> None:
    # The path for a policy attached but absent from the listing (attached between two pages).
    # moto cannot produce that race, so the fetch itself is checked over HTTP.
    account, iam, _ = live
    arn = f"arn:aws:iam::{account}:policy/app/orders-access"
    policy = fetch_managed_policy(iam, arn)
    assert (policy.arn, policy.name, policy.default_version_id) == (arn, "orders-access", "v2")
    assert policy.document == V2
    assert fetch_managed_policy(iam, AWS_EXEC_POLICY).aws_managed is True


def test_live_unreachable_endpoint_is_a_source_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = AwsOptions(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=0)
    with pytest.raises(SourceError, match=r"^IAM: EndpointConnectionError"):
        fetch_authorization_details(options)
