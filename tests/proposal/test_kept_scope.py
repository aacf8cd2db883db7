"""Kept grants scoped and visible (issue 11, case 7): every proposed statement grants something IAM
can authorize; a kept action gets the narrowest scope that serves it exactly as its grant did;
kept grants that stay account-wide are a finding."""

from __future__ import annotations

from datetime import UTC, date, datetime

from builders import ACCOUNT, REGION, arn, ecs, iam, role, sufficient_evidence

from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.build import proposal_policies
from rightsizer.proposal.rightsize import Window, rightsize
from rightsizer.store.records import UsageRow

TRAIL = settings_from_config({"name": "all", "data_events": ["AWS::DynamoDB::Table"]})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
MOMENT = datetime(2026, 10, 10, tzinfo=UTC)
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
STREAM = f"{TABLE}/stream/2026-10-01T00:00:00.000"


def get_item() -> UsageRow:
    return UsageRow(principal=arn("app"), event_source="dynamodb.amazonaws.com",
                    event_name="GetItem", region=REGION, account=ACCOUNT,
                    request_key='{"tableName":"orders"}', resource_arns=(TABLE,),
                    day=MOMENT.date(), error_class="ok", invoked_by="", calls=5,
                    first_seen=MOMENT, last_seen=MOMENT, error_code=None)


def result_for(statements: list[dict]):
    inventory = build_inventory(iam(role("app", inline={"p": {"Statement": statements}})), ecs())
    (target,) = inventory.ecs_roles
    return rightsize(target, [get_item()], sessions={}, trails=[TRAIL], exclusions=(),
                     window=WINDOW, min_window_days=30, today=date(2026, 11, 28),
                     sufficiency=sufficient_evidence())


def statements_of(result) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(s.actions, s.resources) for s in result.proposal.statements if s.effect == "Allow"]


def test_an_action_that_takes_no_resource_is_never_proposed_on_resources() -> None:
    """dynamodb:DescribeEndpoints takes no resource: granted on a table ARN, IAM never matches
    it, so the grant gives nothing and the proposal must not pretend otherwise."""
    result = result_for([{"Effect": "Allow", "Action": ["dynamodb:GetItem",
                                                        "dynamodb:DescribeEndpoints"],
                          "Resource": TABLE}])
    assert "dynamodb:DescribeEndpoints" not in result.proposed_actions
    assert any("dynamodb:DescribeEndpoints" in n and "grants nothing" in n
               for n in result.notes)


def test_a_stream_action_granted_on_the_table_grants_nothing_and_is_not_proposed() -> None:
    result = result_for([{"Effect": "Allow", "Action": ["dynamodb:GetItem",
                                                        "dynamodb:GetRecords"],
                          "Resource": TABLE}])
    assert "dynamodb:GetRecords" not in result.proposed_actions
    assert any("dynamodb:GetRecords" in n for n in result.notes)


def test_a_kept_action_on_star_narrows_to_its_resource_type_and_is_a_finding() -> None:
    """GetRecords is a stream data event no trail here records: kept. On "*" it can only ever be
    authorized on a stream, so the proposal says so, and a finding says it stays account-wide."""
    result = result_for([{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}])
    by = dict((a, r) for actions, r in statements_of(result) for a in actions)
    assert by["dynamodb:GetRecords"] == ("arn:aws:dynamodb:*:*:table/*/stream/*",)
    policies = proposal_policies(result.proposal)
    assert evaluate(Request("dynamodb:GetRecords", STREAM), policies).allowed
    assert by["dynamodb:DescribeEndpoints"] == ("*",)  # takes no resource: * is exact
    finding = next(f for f in result.findings if f.code == "KEPT_GRANT_ACCOUNT_WIDE")
    assert "dynamodb:GetRecords" in finding.message
    assert "dynamodb:DescribeEndpoints" not in finding.message  # * is its only scope


def test_every_proposed_statement_grants_something() -> None:
    from rightsizer.iam.catalog import catalog
    from rightsizer.iam.patterns import patterns_intersect

    result = result_for([{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}])
    for actions, resources in statements_of(result):
        for action in actions:
            types = [t.arn_pattern for t in catalog().resource_types_of(action)]
            for resource in resources:
                assert resource == "*" or any(patterns_intersect(resource, t) for t in types), (
                    action, resource)
