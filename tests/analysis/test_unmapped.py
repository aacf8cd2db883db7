"""Unmapped means protected (issue 11, case 4): an event rightsizer cannot map to an IAM action
keeps the role's grants of the service that could have served it, and says so."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from builders import ACCOUNT, REGION, arn, ecs, iam, role, sufficient_evidence

from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.actions import event_actions
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.rightsize import Window, rightsize
from rightsizer.store.records import UsageRow

TRAIL = settings_from_config({"name": "all", "data_events": ["AWS::S3::Object",
                                                             "AWS::DynamoDB::Table"]})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
MOMENT = datetime(2026, 10, 10, tzinfo=UTC)


def row(source: str, name: str, calls: int = 3) -> UsageRow:
    return UsageRow(principal=arn("app"), event_source=source, event_name=name, region=REGION,
                    account=ACCOUNT, request_key="", resource_arns=(), day=MOMENT.date(),
                    error_class="ok", invoked_by="", calls=calls, first_seen=MOMENT,
                    last_seen=MOMENT, error_code=None)


def result_for(policy: dict, rows: list[UsageRow]):
    inventory = build_inventory(iam(role("app", inline={"p": policy})), ecs())
    (target,) = inventory.ecs_roles
    return rightsize(target, rows, sessions={}, trails=[TRAIL], exclusions=(), window=WINDOW,
                     min_window_days=30, today=date(2026, 11, 28),
                     sufficiency=sufficient_evidence())


POLICY = {"Statement": [
    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem",
                                   "dynamodb:DescribeTable"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": "*"},
]}


def test_an_unmapped_event_keeps_the_grants_of_its_service() -> None:
    # StartBulkPutItems has no IAM action in the catalog: rightsizer cannot tell what it needs.
    assert event_actions("dynamodb.amazonaws.com", "StartBulkPutItems").status == "unmapped"
    result = result_for(POLICY, [row("dynamodb.amazonaws.com", "StartBulkPutItems"),
                                 row("s3.amazonaws.com", "GetObject")])
    by = {v.action: v for v in result.verdicts}
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"):
        assert by[action].verdict == "kept_unmapped", action
        assert "dynamodb.amazonaws.com:StartBulkPutItems" in by[action].reason
    assert by["s3:GetObject"].verdict == "used"
    assert by["s3:DeleteObject"].verdict == "unused"  # another service: still judged
    assert result.proposal is not None
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"} <= set(
        result.proposed_actions)
    finding = next(f for f in result.findings if f.code == "UNMAPPED_EVENTS_KEPT_GRANTS")
    assert finding.severity.value == "medium"
    assert "3 grants" in finding.message and "StartBulkPutItems" in finding.message
    assert result.replay is not None and result.replay.passed


def test_an_operation_newer_than_the_catalog_keeps_its_services_grants() -> None:
    """An operation newer than the catalog: its service's grants stay until it is understood."""
    policy = {"Statement": [{"Effect": "Allow", "Action": ["bedrock:InvokeModel",
                                                           "bedrock:ListFoundationModels"],
                             "Resource": "*"}]}
    result = result_for(policy, [row("bedrock.amazonaws.com", "SomeCallNotYetInIam")])
    kept = {v.action for v in result.verdicts if v.verdict == "kept_unmapped"}
    assert kept == {"bedrock:InvokeModel", "bedrock:ListFoundationModels"}


@pytest.mark.parametrize(("source", "name", "actions"), [
    # https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html: InvokeModel
    # allows InvokeModel and Converse; InvokeModelWithResponseStream, the streaming two.
    ("bedrock.amazonaws.com", "Converse", ("bedrock:InvokeModel",)),
    ("bedrock.amazonaws.com", "ConverseStream", ("bedrock:InvokeModelWithResponseStream",)),
    # AppConfig's data plane records under appconfigdata.amazonaws.com with the appconfig
    # prefix (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsappconfig.html).
    ("appconfigdata.amazonaws.com", "StartConfigurationSession",
     ("appconfig:StartConfigurationSession",)),
    ("appconfigdata.amazonaws.com", "GetLatestConfiguration",
     ("appconfig:GetLatestConfiguration",)),
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html
    ("secretsmanager.amazonaws.com", "BatchGetSecretValue",
     ("secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue")),
])
def test_the_events_the_issue_found_unmapped_now_map(source: str, name: str,
                                                     actions: tuple[str, ...]) -> None:
    mapped = event_actions(source, name)
    assert mapped.status == "mapped" and mapped.actions == actions
