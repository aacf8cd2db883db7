"""How many resources a role's result lists per action: a role that touches tens of thousands of
S3 objects must not carry every one of them into memory for the whole run and into
``summary.json`` (at 10M simulated events it listed 1.45M ARNs: a 285 MB summary, and the run's
peak memory). The proposal and its proof see every resource; what the result keeps afterwards is
the most-called ones, with how many more there were."""

from __future__ import annotations

from datetime import UTC, date, datetime

from builders import ACCOUNT, REGION, arn, ecs, iam, role, sufficient_evidence
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.build import proposal_policies
from rightsizer.proposal.rightsize import RESOURCES_LISTED, Window, rightsize
from rightsizer.report.html import _verdict_row
from rightsizer.store.records import UsageRow

TRAIL = settings_from_config({"name": "all", "data_events": ["AWS::DynamoDB::Table"]})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
MOMENT = datetime(2026, 10, 10, tzinfo=UTC)
TABLES = RESOURCES_LISTED + 50


def table(i: int) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t{i:04d}"


def get_item(i: int) -> UsageRow:
    """GetItem on table i, called i + 1 times: table 0 is the least called."""
    return UsageRow(principal=arn("app"), event_source="dynamodb.amazonaws.com",
                    event_name="GetItem", region=REGION, account=ACCOUNT,
                    request_key=f'{{"tableName":"t{i:04d}"}}', resource_arns=(table(i),),
                    day=MOMENT.date(), error_class="ok", invoked_by="", calls=i + 1,
                    first_seen=MOMENT, last_seen=MOMENT, error_code=None)


def result():
    statements = [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                   "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*"}]
    inventory = build_inventory(iam(role("app", inline={"p": {"Statement": statements}})), ecs())
    (target,) = inventory.ecs_roles
    return rightsize(target, [get_item(i) for i in range(TABLES)], sessions={},
                     trails=[TRAIL], exclusions=(), window=WINDOW, min_window_days=30,
                     today=date(2026, 11, 28), sufficiency=sufficient_evidence())


def test_the_result_lists_the_most_called_resources_and_counts_the_others() -> None:
    evidence = result().evidence.actions["dynamodb:GetItem"]
    listed = {a for a, _region in evidence.resources}
    assert listed == {table(i) for i in range(TABLES - RESOURCES_LISTED, TABLES)}
    assert evidence.resources_omitted == TABLES - RESOURCES_LISTED
    assert evidence.resource_calls_omitted == sum(i + 1 for i in range(TABLES - RESOURCES_LISTED))
    assert evidence.resource_count == TABLES
    assert evidence.calls == sum(i + 1 for i in range(TABLES))  # the totals are whole


def test_the_proposal_and_its_proof_saw_every_resource() -> None:
    found = result()
    assert found.replay is not None and found.replay.passed
    assert found.replay.calls == sum(i + 1 for i in range(TABLES))
    policies = proposal_policies(found.proposal)
    for i in range(TABLES):  # the least-called tables too, left out of the listing
        assert evaluate(Request("dynamodb:GetItem", table(i)), policies).allowed, table(i)
    assert "dynamodb:PutItem" not in found.proposed_actions


def test_the_summary_and_the_report_say_how_many_resources_there_were() -> None:
    from rightsizer.pipeline.write import _verdict_json

    found = result()
    verdict = next(v for v in found.verdicts if v.action == "dynamodb:GetItem")
    entry = _verdict_json(verdict)
    assert len(entry["resources"]) == RESOURCES_LISTED
    assert entry["resource_count"] == TABLES
    assert entry["resources"][-1] == {"arn": table(TABLES - 1), "calls": TABLES}  # by ARN
    row = _verdict_row(entry)
    assert row["more_resources"] == TABLES - len(row["resources"])


def test_a_role_with_few_resources_lists_them_all() -> None:
    from rightsizer.analysis.verdicts import ActionEvidence

    evidence = ActionEvidence("s3:GetObject", resources={("a", REGION): 2, ("b", REGION): 1})
    evidence.trim(RESOURCES_LISTED)
    assert evidence.resources == {("a", REGION): 2, ("b", REGION): 1}
    assert (evidence.resources_omitted, evidence.resource_calls_omitted) == (0, 0)
    assert evidence.resource_count == 2


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from([f"arn:{c}" for c in "abcdefghij"]),
                                 st.sampled_from(["eu-west-1", "us-east-1", ""])),
                       st.integers(1, 4), max_size=30),
       st.integers(1, 8))
def test_trimming_keeps_the_most_called_then_first_arns_and_counts_the_others(
        resources: dict[tuple[str, str], int], keep: int) -> None:
    from rightsizer.analysis.verdicts import ActionEvidence

    evidence = ActionEvidence("s3:GetObject", resources=dict(resources))
    evidence.trim(keep)
    by_arn: dict[str, int] = {}
    for (name, _region), n in resources.items():
        by_arn[name] = by_arn.get(name, 0) + n
    ranked = sorted(by_arn.items(), key=lambda item: (-item[1], item[0]))  # ties: by ARN
    kept = {name for name, _n in ranked[:keep]}
    assert evidence.resources == {k: n for k, n in resources.items() if k[0] in kept}
    assert evidence.resources_omitted == len(ranked[keep:])
    assert evidence.resource_calls_omitted == sum(n for _name, n in ranked[keep:])
    assert evidence.resource_count == len(by_arn)
