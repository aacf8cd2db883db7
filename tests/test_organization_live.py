"""An organization in one run, live: the member accounts listed by AWS Organizations, each read
through a role rightsizer assumes there, against moto's server over HTTP. A member whose role
cannot be assumed (refused by STS, through a proxy: moto lets any role be assumed) is named, and
the other accounts complete (exit 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

from rightsizer.cli import main
from tests.organization import DATA, GRANTED, REGION, SHOP, _trust, write_organization

READER = "rightsizer-read"  # deploy/: the member role's default name


def _client(service: str, endpoint: str, credentials: dict[str, str] | None = None) -> Any:
    keys = ({"aws_access_key_id": credentials["AccessKeyId"],
             "aws_secret_access_key": credentials["SecretAccessKey"],
             "aws_session_token": credentials["SessionToken"]} if credentials else {})
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **keys)


def _seed_member(endpoint: str, account: str) -> None:
    """The member's ECS task role app-task and its task definition, made in the member account
    with credentials of a role assumed there (moto files them under that account)."""
    credentials = _client("sts", endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed")["Credentials"]
    iam = _client("iam", endpoint, credentials)
    iam.create_role(RoleName="app-task", Path="/ecs/",
                    AssumeRolePolicyDocument=json.dumps(_trust(account)))
    iam.put_role_policy(RoleName="app-task", PolicyName="app", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": GRANTED, "Resource": "*"}]}))
    _client("ecs", endpoint, credentials).register_task_definition(
        family="app", taskRoleArn=f"arn:aws:iam::{account}:role/ecs/app-task",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:1",
                               "memory": 512}])


def test_the_organization_is_read_live_and_an_unassumable_member_is_named(
        moto_server: str, assume_denying_endpoint: tuple[str, list[str]],
        tmp_path: Path) -> None:
    endpoint, denied = assume_denying_endpoint
    organizations = _client("organizations", moto_server)
    organizations.create_organization(FeatureSet="ALL")
    created = {}
    for name in ("shop", "data", "locked"):
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        created[name] = status["CreateAccountStatus"]["AccountId"]
    # The logs' accounts are the ones moto made: rewrite the builders' account ids to them.
    logs_root = write_organization(tmp_path / "org", files=False)
    for path in (logs_root / "cloudtrail").rglob("*.json.gz"):
        _rewrite_accounts(path, {SHOP: created["shop"], DATA: created["data"]})
    for source, target in ((SHOP, created["shop"]), (DATA, created["data"])):
        folder = logs_root / "cloudtrail" / "AWSLogs"
        for path in sorted(folder.rglob(f"*{source}*"), key=lambda p: -len(p.parts)):
            path.rename(path.with_name(path.name.replace(source, target)))
    for account in (created["shop"], created["data"]):
        _seed_member(moto_server, account)
    denied.append(f"::{created['locked']}:role/{READER}")

    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(logs_root / "cloudtrail"), "--iam", "aws", "--ecs", "aws",
        "--organization", "--assume-role", READER, "--endpoint-url", endpoint,
        "--region", REGION, "--trail", str(logs_root / "event-selectors.json"),
        "--db", str(tmp_path / "org.duckdb"), "--out", str(out), "--workers", "1",
        "--since", "2026-10-01", "--until", "2026-10-31"], catch_exceptions=False)

    assert result.exit_code == 4, result.output + result.stderr
    locked = created["locked"]
    assert (f"bad input: account {locked}: AssumeRole arn:aws:iam::{locked}:role/{READER}: "
            "AccessDenied") in result.stderr
    assert "the account's roles are not in this run" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    accounts = {a["account"]: a for a in summary["organization"]["accounts"]}
    assert set(accounts) == {created["shop"], created["data"]}
    assert accounts[created["shop"]]["proposed"] == 1
    assert accounts[created["data"]]["proposed"] == 2
    for account in (created["shop"], created["data"]):
        assert (out / "accounts" / account / "roles" / "app-task" / "policy.json").is_file()
    assert any(p["input"] == f"account {locked}" for p in summary["problems"])


def _rewrite_accounts(path: Path, mapping: dict[str, str]) -> None:
    import gzip

    text = gzip.decompress(path.read_bytes()).decode()
    for source, target in mapping.items():
        text = text.replace(source, target)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
