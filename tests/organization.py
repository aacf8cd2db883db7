"""Builders of a small organization for tests: two accounts, each with an ECS task role named
app-task (same name, different grants in use), an organization trail's delivery files, and the
trail's event selectors. SHOP's role also reads DATA's bucket: a cross-account call the trail
records in both accounts, with one sharedEventID."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers import event, write_delivery

ORG = "o-abcdefghij"
SHOP = "111122223333"  # uses s3:GetObject only
DATA = "444455556666"  # uses s3:GetObject and s3:PutObject; owns the bucket SHOP reads
REGION = "us-east-1"
FIRST_DAY = datetime(2026, 10, 1)
DAYS = 31
GRANTED = ["s3:GetObject", "s3:PutObject", "dynamodb:GetItem"]


def _trust(account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}


def authorization_details(account: str) -> dict:
    """`aws iam get-account-authorization-details` output of an account with one ECS task role,
    app-task, whose inline policy grants ``GRANTED``."""
    return {"UserDetailList": [], "GroupDetailList": [], "Policies": [], "RoleDetailList": [{
        "Path": "/ecs/", "RoleName": "app-task", "RoleId": f"AROA{account}",
        "Arn": f"arn:aws:iam::{account}:role/ecs/app-task",
        "CreateDate": "2024-01-02T03:04:05+00:00",
        "AssumeRolePolicyDocument": _trust(account),
        "RolePolicyList": [{"PolicyName": "app", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": GRANTED, "Resource": "*"}]}}],
        "AttachedManagedPolicies": [], "Tags": [], "InstanceProfileList": [],
        "RoleLastUsed": {}}]}


def task_definitions(account: str) -> dict:
    return {"taskDefinitions": [{
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{account}:task-definition/app:1",
        "family": "app", "revision": 1, "status": "ACTIVE",
        "taskRoleArn": f"arn:aws:iam::{account}:role/ecs/app-task",
        "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1"}]}]}


def _call(n: int, account: str, when: datetime, name: str, *, recipient: str | None = None,
          shared: str | None = None) -> dict:
    record = event(n, when=when, role="app-task", eventName=name,
                   recipientAccountId=recipient or account)
    record["eventID"] = f"{n:08d}-0000-4000-8000-{int(account):012d}"
    for arn_holder in (record["userIdentity"], record["userIdentity"]["sessionContext"][
            "sessionIssuer"]):
        arn_holder["arn"] = arn_holder["arn"].replace("111122223333", account)
        arn_holder["accountId"] = account
    record["userIdentity"]["accountId"] = account
    if shared:
        record["sharedEventID"] = shared
    return record


def _org_path(root: Path, account: str, day: datetime, name: str) -> Path:
    return (root / "AWSLogs" / ORG / account / "CloudTrail" / REGION / f"{day:%Y}" / f"{day:%m}"
            / f"{day:%d}" / f"{account}_CloudTrail_{REGION}_{day:%Y%m%dT%H%MZ}_{name}.json.gz")


def event_selectors() -> dict:
    """The organization trail's selectors: management events, S3 object and DynamoDB data."""
    def data(kind: str) -> dict:
        return {"Name": kind, "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": [kind]}]}

    return {"TrailARN": f"arn:aws:cloudtrail:{REGION}:{SHOP}:trail/org-trail",
            "AdvancedEventSelectors": [
                {"Name": "Management events",
                 "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
                data("AWS::S3::Object"), data("AWS::DynamoDB::Table")]}


def write_organization(root: Path, *, files: bool = True) -> Path:
    """The organization under ``root``: ``cloudtrail/``, ``event-selectors.json`` and, with
    ``files``, ``iam/ACCOUNT.json`` and ``ecs/ACCOUNT.json``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "event-selectors.json").write_text(json.dumps(event_selectors()))
    for account in (SHOP, DATA) if files else ():
        (root / "iam").mkdir(exist_ok=True)
        (root / "ecs").mkdir(exist_ok=True)
        (root / "iam" / f"{account}.json").write_text(json.dumps(authorization_details(account)))
        (root / "ecs" / f"{account}.json").write_text(json.dumps(task_definitions(account)))
    n = 0
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        by_account: dict[str, list[dict]] = {SHOP: [], DATA: []}
        for hour in range(0, 24, 6):
            when = day + timedelta(hours=hour)
            for account, names in ((SHOP, ["GetObject"]), (DATA, ["GetObject", "PutObject"])):
                for name in names:
                    n += 1
                    by_account[account].append(_call(n, account, when, name))
            # SHOP's role reads DATA's bucket: the trail records it in both accounts, with one
            # sharedEventID and two eventIDs.
            n += 1
            shared = f"5ea7ed00-0000-4000-8000-{n:012d}"
            by_account[SHOP].append(_call(n, SHOP, when, "GetObject", shared=shared))
            n += 1
            by_account[DATA].append(_call(n, SHOP, when, "GetObject", recipient=DATA,
                                          shared=shared))
        for account, records in by_account.items():
            write_delivery(_org_path(root / "cloudtrail", account, day, f"{offset:04d}"), records)
    return root
