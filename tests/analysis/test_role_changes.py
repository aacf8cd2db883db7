"""Who changed each ECS role, and whether it widened it (issue 13): table-driven over the IAM
calls a change audit reads, and the SQL file on a small store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import ACCOUNT, EC2_TRUST, ECS_TRUST, EXECUTION_POLICY_ARN, ecs, iam, role
from builders import task_definition as td
from helpers import event, write_delivery

import rightsizer
from rightsizer.analysis.inventory import build_inventory
from rightsizer.analysis.role_changes import role_changes
from rightsizer.store.database import Store
from rightsizer.store.records import IamChangeEvent

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TASK = f"arn:aws:iam::{ACCOUNT}:role/app-task"
CI = f"arn:aws:iam::{ACCOUNT}:user/ci"
NARROW = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
WIDER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::b/*"}]}
OPEN_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}


def change(n: int, name: str, **request: Any) -> IamChangeEvent:
    return IamChangeEvent(T0 + timedelta(hours=n), name, CI, "IAMUser", "", "198.51.100.1",
                          "aws-cli", {"roleName": "app-task", **request}, f"e{n}")


def changes(*events: IamChangeEvent) -> list[tuple[str, bool | None]]:
    inv = build_inventory(iam(role("app-task", inline={"p": NARROW},
                                   attached=(EXECUTION_POLICY_ARN,)),
                              role("unrelated", trust=EC2_TRUST)),
                          ecs(td("app", task=TASK)))
    found = role_changes(events, inv)
    assert set(found) <= {TASK}
    return [(c.change, c.widened) for c in found.get(TASK, ())]


@pytest.mark.parametrize(("events", "expected"), [
    ([change(1, "AttachRolePolicy", policyArn="arn:aws:iam::aws:policy/AdministratorAccess")],
     [("AttachRolePolicy", True)]),
    ([change(1, "DetachRolePolicy", policyArn=EXECUTION_POLICY_ARN)],
     [("DetachRolePolicy", False)]),
    ([change(1, "DeleteRolePolicy", policyName="p")], [("DeleteRolePolicy", False)]),
    ([change(1, "PutRolePolicy", policyName="p", policyDocument=json.dumps(NARROW)),
      change(2, "PutRolePolicy", policyName="p", policyDocument=json.dumps(WIDER))],
     [("PutRolePolicy", None), ("PutRolePolicy", True)]),
    ([change(1, "PutRolePolicy", policyName="p", policyDocument=json.dumps(WIDER)),
      change(2, "PutRolePolicy", policyName="p", policyDocument=json.dumps(NARROW))],
     [("PutRolePolicy", None), ("PutRolePolicy", False)]),
    ([change(1, "DeleteRolePolicy", policyName="p"),
      change(2, "PutRolePolicy", policyName="p", policyDocument=json.dumps(NARROW))],
     [("DeleteRolePolicy", False), ("PutRolePolicy", True)]),
    ([change(1, "UpdateAssumeRolePolicy", policyDocument=json.dumps(OPEN_TRUST))],
     [("UpdateAssumeRolePolicy", True)]),
    ([change(1, "UpdateAssumeRolePolicy", policyDocument=json.dumps(EC2_TRUST))],
     [("UpdateAssumeRolePolicy", False)]),
    ([change(1, "UpdateAssumeRolePolicy", policyDocument=json.dumps(ECS_TRUST))],
     [("UpdateAssumeRolePolicy", False)]),
    ([change(1, "DeleteRolePermissionsBoundary")], [("DeleteRolePermissionsBoundary", True)]),
    ([change(1, "PutRolePolicy", policyName="p", policyDocument="%7Bbroken")],
     [("PutRolePolicy", None)]),
])
def test_whether_a_change_widened_the_role(events: list[IamChangeEvent],
                                           expected: list[tuple[str, bool | None]]) -> None:
    assert changes(*events) == expected


def test_a_new_default_version_of_an_attached_policy_is_the_roles_change() -> None:
    version = {"policyArn": EXECUTION_POLICY_ARN, "setAsDefault": "true"}
    events = [IamChangeEvent(T0, "CreatePolicyVersion", CI, "IAMUser", "", "", "",
                             {**version, "policyDocument": json.dumps(NARROW)}, "a"),
              IamChangeEvent(T0 + timedelta(1), "CreatePolicyVersion", CI, "IAMUser", "", "",
                             "", {**version, "policyDocument": json.dumps(WIDER)}, "b")]
    assert changes(*events) == [("CreatePolicyVersion", None), ("CreatePolicyVersion", True)]


def test_the_widening_names_what_was_added() -> None:
    inv = build_inventory(iam(role("app-task", inline={"p": NARROW})), ecs(td("app", task=TASK)))
    [_, wider] = role_changes([
        change(1, "PutRolePolicy", policyName="p", policyDocument=json.dumps(NARROW)),
        change(2, "PutRolePolicy", policyName="p", policyDocument=json.dumps(WIDER))], inv)[TASK]
    assert "s3:PutObject on arn:aws:s3:::b/*" in wider.why and "s3:GetObject" not in wider.why
    assert wider.actor == CI and wider.what == "wrote inline policy p"


def test_the_store_reads_the_changes_and_only_successful_ones(tmp_path: Path) -> None:
    records = []
    for n, (name, error) in enumerate((("PutRolePolicy", None), ("AttachRolePolicy", None),
                                       ("AttachRolePolicy", "AccessDenied"),
                                       ("ListRoles", None))):
        record = event(n, eventSource="iam.amazonaws.com", eventName=name,
                       requestParameters={"roleName": "app-task", "policyName": "p"})
        if error:
            record["errorCode"] = error
        records.append(record)
    path = write_delivery(tmp_path / "logs" / "f.json.gz", records)
    rightsizer.ingest([str(path.parent)], tmp_path / "db.duckdb", workers=1)
    with Store(tmp_path / "db.duckdb", read_only=True) as store:
        found = store.iam_changes()
    assert [e.name for e in found] == ["PutRolePolicy", "AttachRolePolicy"]
    assert found[0].request == {"roleName": "app-task", "policyName": "p"}
    assert found[0].time.tzinfo is not None
