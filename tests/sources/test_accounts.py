"""Several accounts' IAM data as one (sources/accounts.py): a folder of authorization-details
files, what a bad file or a repeated account does, and the member accounts' settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources.accounts import Members, accounts_of, load_iam_input
from tests.organization import DATA, SHOP, authorization_details

MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def _with_managed_policy(account: str) -> dict:
    details = authorization_details(account)
    details["RoleDetailList"][0]["AttachedManagedPolicies"] = [
        {"PolicyName": "AmazonECSTaskExecutionRolePolicy", "PolicyArn": MANAGED}]
    details["Policies"] = [{
        "PolicyName": "AmazonECSTaskExecutionRolePolicy", "Arn": MANAGED, "Path": "/",
        "DefaultVersionId": "v1", "IsAttachable": True, "PolicyVersionList": [{
            "VersionId": "v1", "IsDefaultVersion": True, "Document": {
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}}]}]
    return details


def _folder(tmp_path: Path, files: dict[str, object]) -> Path:
    folder = tmp_path / "iam"
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


def test_a_folder_holds_one_account_a_file_and_aws_policies_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {f"{SHOP}.json": _with_managed_policy(SHOP),
                                f"nested/{DATA}.json": _with_managed_policy(DATA)})
    details = load_iam_input(folder)
    assert accounts_of(details) == (SHOP, DATA)
    assert [r.arn for r in details.roles] == [
        f"arn:aws:iam::{SHOP}:role/ecs/app-task", f"arn:aws:iam::{DATA}:role/ecs/app-task"]
    assert list(details.policies) == [MANAGED]
    assert details.problems == ()
    assert details.source == f"folder {folder}"


def test_an_unreadable_file_is_named_and_the_others_are_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {f"{SHOP}.json": authorization_details(SHOP),
                                "broken.json": '{"RoleDetailList": [',
                                "other.json": {"Users": []}})
    details = load_iam_input(folder)
    assert accounts_of(details) == (SHOP,)
    named = {Path(p.uri).name: p.reason for p in details.problems}
    assert set(named) == {"broken.json", "other.json"}
    assert "RoleDetailList" in named["other.json"]


def test_an_account_in_two_files_is_named_and_only_the_first_is_used(tmp_path: Path) -> None:
    older = authorization_details(SHOP)
    newer = authorization_details(SHOP)
    newer["RoleDetailList"][0]["RoleName"] = "renamed"
    newer["RoleDetailList"][0]["Arn"] = f"arn:aws:iam::{SHOP}:role/ecs/renamed"
    folder = _folder(tmp_path, {"a.json": older, "b.json": newer})
    details = load_iam_input(folder)
    assert [r.name for r in details.roles] == ["app-task"]  # never a mix of two snapshots
    (problem,) = details.problems
    assert problem.uri.endswith("b.json")
    assert f"account {SHOP} is also in" in problem.reason and "a.json" in problem.reason


@pytest.mark.parametrize(("files", "message"), [
    ({}, "no .json files"),
    ({"x.json": "not json"}, "none of its 1 .json files"),
])
def test_a_folder_with_nothing_readable_is_an_error(tmp_path: Path, files: dict[str, object],
                                                    message: str) -> None:
    folder = _folder(tmp_path, files)
    folder.mkdir(exist_ok=True)
    with pytest.raises(SourceError, match=message):
        load_iam_input(folder)


@pytest.mark.parametrize(("members", "message"), [
    ({"accounts": ("12345",), "assume_role": "r"}, "12 digits"),
    ({"organization": True}, "--organization needs --assume-role"),
    ({"assume_role": "r"}, "name the member accounts"),
])
def test_member_settings_that_cannot_work_are_refused(members: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Members(**members)


def test_members_are_read_only_with_a_role_to_assume() -> None:
    # --account alone is Athena's partitions: the credentials' own account is read live.
    assert not Members(accounts=(SHOP,)).read_live
    assert Members(accounts=(SHOP,), assume_role="rightsizer-read").read_live
    assert Members(organization=True, assume_role="rightsizer-read").read_live
