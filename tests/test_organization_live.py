"""An organization in one run, live: the member accounts listed by AWS Organizations, each read
through a role rightsizer assumes there, against moto's server over HTTP. A member whose role
cannot be assumed (refused by STS, through a proxy: moto lets any role be assumed) is named, and
the other accounts complete (exit 4)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from click.testing import CliRunner

from rightsizer.cli import main

if TYPE_CHECKING:
    from tests.conftest import Refusing
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


def _organization(moto_server: str, root: Path) -> tuple[dict[str, str], Path]:
    """An organization in moto (shop, data, locked: the accounts moto makes), shop's and data's
    roles and task definitions in their accounts, and the organization trail's logs of them."""
    organizations = _client("organizations", moto_server)
    # moto's server lives for the whole session: a test before may have made the organization.
    with contextlib.suppress(organizations.exceptions.AlreadyInOrganizationException):
        organizations.create_organization(FeatureSet="ALL")
    created = {}
    for name in ("shop", "data", "locked"):
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        created[name] = status["CreateAccountStatus"]["AccountId"]
    # The logs' accounts are the ones moto made: rewrite the builders' account ids to them.
    logs_root = write_organization(root, files=False)
    for path in (logs_root / "cloudtrail").rglob("*.json.gz"):
        _rewrite_accounts(path, {SHOP: created["shop"], DATA: created["data"]})
    for source, target in ((SHOP, created["shop"]), (DATA, created["data"])):
        folder = logs_root / "cloudtrail" / "AWSLogs"
        for path in sorted(folder.rglob(f"*{source}*"), key=lambda p: -len(p.parts)):
            path.rename(path.with_name(path.name.replace(source, target)))
    for account in (created["shop"], created["data"]):
        _seed_member(moto_server, account)
    return created, logs_root


def _run_live(endpoint: str, logs_root: Path, root: Path, accounts: list[str]) -> Any:
    return CliRunner().invoke(main, [
        "run", "--logs", str(logs_root / "cloudtrail"), "--iam", "aws", "--ecs", "aws",
        *(a for account in accounts for a in ("--account", account)),
        "--assume-role", READER, "--endpoint-url", endpoint,
        "--region", REGION, "--trail", str(logs_root / "event-selectors.json"),
        "--db", str(root / "org.duckdb"), "--out", str(root / "out"), "--workers", "1",
        "--since", "2026-10-01", "--until", "2026-10-31"], catch_exceptions=False)


def test_the_organization_is_read_live_and_an_unassumable_member_is_named(
        moto_server: str, refusing_endpoint: Refusing, tmp_path: Path) -> None:
    created, logs_root = _organization(moto_server, tmp_path / "org")
    refusing_endpoint.assume.append(f"::{created['locked']}:role/{READER}")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(logs_root / "cloudtrail"), "--iam", "aws", "--ecs", "aws",
        "--organization", "--assume-role", READER, "--endpoint-url", refusing_endpoint.url,
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


def test_a_member_whose_task_definitions_cannot_be_read_gets_no_proposal(
        moto_server: str, refusing_endpoint: Refusing, tmp_path: Path) -> None:
    """data's role may assume the reader but the reader may not read ECS there: what data's
    tasks declare they need (secrets read at start, images) is unknown, so nothing of its roles
    is called unused; shop is rightsized as before."""
    created, logs_root = _organization(moto_server, tmp_path / "org")
    refusing_endpoint.ecs.append(f"::{created['data']}:role/{READER}")
    result = _run_live(refusing_endpoint.url, logs_root, tmp_path,
                       [created["shop"], created["data"]])
    assert result.exit_code == 4, result.stderr
    assert (f"bad input: account {created['data']}: ECS: AccessDeniedException"
            in result.stderr)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    roles = {r["account"]: r for r in summary["roles"]}
    data, shop = roles[created["data"]], roles[created["shop"]]
    assert data["policy_path"] is None and not data["evidence_sufficiency"]["sufficient"]
    assert any(f"task definitions of account {created['data']} could not be read" in m
               for m in data["evidence_sufficiency"]["missing"])
    assert "INSUFFICIENT_EVIDENCE" in {f["code"] for f in data["findings"]}
    assert shop["proposed_actions"] == ["s3:GetObject"]
    # IAM and ECS both read live: each member's role is assumed once for the run.
    readers = sorted(a for a in refusing_endpoint.assumed if a.endswith(f"/{READER}"))
    assert readers == sorted(f"arn:aws:iam::{created[n]}:role/{READER}"
                             for n in ("shop", "data"))


def _rewrite_accounts(path: Path, mapping: dict[str, str]) -> None:
    import gzip

    text = gzip.decompress(path.read_bytes()).decode()
    for source, target in mapping.items():
        text = text.replace(source, target)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def test_a_simulated_organization_live_proposes_what_its_files_propose(
        moto_server: str, refusing_endpoint: Refusing,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`simulate --accounts 2` loaded into moto, account by account; read live through the
    assumed role (and a third account that refuses it), the run proposes for every role what
    the run over the simulation's files proposes."""
    import rightsizer
    from tests.moto_seed import seed_ecs, seed_iam

    endpoint, denied = refusing_endpoint.url, refusing_endpoint.assume
    # The accounts' IAM, made from here on, holds AWS's managed policies as real accounts do
    # (AmazonECSTaskExecutionRolePolicy is attached): moto loads them when asked to.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    sim = rightsizer.simulate_account(tmp_path / "sim", accounts=2, events=2000, seed=9,
                                      events_per_file=40, digest_hours=24)
    for account in sim.accounts:
        seed_iam(moto_server, account, json.loads(
            (sim.iam_path / f"{account}.json").read_text()))
        seed_ecs(moto_server, account, json.loads(
            (sim.ecs_path / f"{account}.json").read_text()))
    locked = "999988887777"
    denied.append(f"::{locked}:role/{READER}")
    common = ["--logs", str(sim.cloudtrail_dir), "--trail", str(sim.trail_path),
              "--public-keys", str(sim.public_keys_path), "--workers", "1"]
    files_out, live_out = tmp_path / "files", tmp_path / "live"
    from_files = CliRunner().invoke(main, [
        "run", *common, "--iam", str(sim.iam_path), "--ecs", str(sim.ecs_path),
        "--db", str(tmp_path / "files.duckdb"), "--out", str(files_out)],
        catch_exceptions=False)
    assert from_files.exit_code == 0, from_files.stderr
    accounts = [a for account in (*sim.accounts, locked) for a in ("--account", account)]
    live = CliRunner().invoke(main, [
        "run", *common, "--iam", "aws", "--ecs", "aws", *accounts, "--assume-role", READER,
        "--endpoint-url", endpoint, "--region", REGION, "--ecs-region", "us-east-1",
        "--ecs-region", "eu-west-1", "--ecs-region", "ap-southeast-2",
        "--db", str(tmp_path / "live.duckdb"), "--out", str(live_out)],
        catch_exceptions=False)
    assert live.exit_code == 4, live.stderr
    assert f"bad input: account {locked}: AssumeRole" in live.stderr
    policies = sorted(p.relative_to(files_out) for p in files_out.rglob("policy.json"))
    assert len(policies) > 10
    assert {p.parts[1] for p in policies} == set(sim.accounts)
    assert sorted(p.relative_to(live_out) for p in live_out.rglob("policy.json")) == policies
    for policy in policies:
        assert (live_out / policy).read_text() == (files_out / policy).read_text(), policy
