"""Properties of the proposal, over random policies and random usage: it allows every call the
role's policies allowed, allows no unused action, and is never broader than the grant (checked
at every point of a small universe of actions and resources, with the evaluator)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from builders import arn, ecs, iam, role, sufficient_evidence
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.build import proposal_policies
from rightsizer.proposal.rightsize import Window, rightsize
from rightsizer.store.records import UsageRow

ACCOUNT = "111122223333"
REGION = "us-east-1"
TASK_IDS = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
# (eventSource, eventName, IAM action, request parameters, the resource ARN IAM checks)
CALLS: list[tuple[str, str, str, dict[str, Any], str]] = []
for bucket in ("b1", "b2"):
    for key in ("in/a.json", f"in/{TASK_IDS[0]}/x.json", f"in/{TASK_IDS[1]}/x.json", "out/r.csv"):
        for name in ("GetObject", "PutObject", "DeleteObject"):
            CALLS.append(("s3.amazonaws.com", name, f"s3:{name}",
                          {"bucketName": bucket, "key": key}, f"arn:aws:s3:::{bucket}/{key}"))
for queue in ("q1", "q2"):
    for name in ("SendMessage", "ReceiveMessage"):
        CALLS.append(("sqs.amazonaws.com", name, f"sqs:{name}",
                      {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}"},
                      f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
for table in ("t1", "t2"):
    for name in ("GetItem", "PutItem"):
        CALLS.append(("dynamodb.amazonaws.com", name, f"dynamodb:{name}", {"tableName": table},
                      f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"))
ACTIONS = sorted({c[2] for c in CALLS})
RESOURCES = sorted({c[4] for c in CALLS} | {"arn:aws:s3:::b1/elsewhere/k"})

ACTION_PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "sqs:*", "dynamodb:*", "*"]
RESOURCE_PATTERNS = [*sorted({c[4] for c in CALLS}), "arn:aws:s3:::b1/*", "arn:aws:s3:::b1/in/*",
                     "arn:aws:s3:::*/out/*", f"arn:aws:sqs:{REGION}:{ACCOUNT}:*",
                     f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t?", "*"]
TRAIL = settings_from_config({"name": "all", "data_events": [
    "AWS::S3::Object", "AWS::SQS::Queue", "AWS::DynamoDB::Table"]})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))

statements = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Allow", "Allow", "Deny"]),
    "Action": st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3, unique=True),
    "Resource": st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3,
                         unique=True),
})


def usage_row(call: tuple[str, str, str, dict[str, Any], str], calls: int) -> UsageRow:
    source, name, _action, params, _resource = call
    moment = datetime(2026, 10, 10, tzinfo=UTC)
    return UsageRow(
        principal=arn("app"), event_source=source, event_name=name, region=REGION,
        account=ACCOUNT, request_key=json.dumps(params, sort_keys=True), resource_arns=(),
        day=moment.date(), error_class="ok", invoked_by="", calls=calls,
        first_seen=moment, last_seen=moment, error_code=None)


@settings(max_examples=100, deadline=None)
@given(policy=st.lists(statements, min_size=1, max_size=4),
       used=st.lists(st.tuples(st.sampled_from(range(len(CALLS))), st.integers(1, 5)),
                     max_size=10))
def test_the_proposal_is_proven_and_never_broader(policy: list[dict[str, Any]],
                                                  used: list[tuple[int, int]]) -> None:
    inventory = build_inventory(iam(role("app", inline={"p": {"Statement": policy}})), ecs())
    (target,) = inventory.ecs_roles
    rows = [usage_row(CALLS[i], n) for i, n in used]
    result = rightsize(target, rows, sessions={}, trails=[TRAIL], exclusions=(), window=WINDOW,
                       min_window_days=30, today=date(2026, 11, 28),
                       sufficiency=sufficient_evidence())
    assert result.proposal is not None, result.findings
    assert result.replay is not None and result.replay.passed
    proposed = proposal_policies(result.proposal)
    original = list(target.policies)
    # Every call the role's policies allowed is allowed by the proposal.
    for i, _ in used:
        _, _, action, _, resource = CALLS[i]
        request = Request(action, resource)
        if evaluate(request, original).allowed:
            assert evaluate(request, proposed).allowed, (action, resource)
    unused = {v.action for v in result.verdicts if v.verdict == "unused"}
    for action in ACTIONS:
        for resource in RESOURCES:
            request = Request(action, resource)
            allowed = evaluate(request, proposed).allowed
            # Never broader than the grant, at any point of the universe.
            if allowed:
                assert evaluate(request, original).allowed, (action, resource)
            # No unused action survives.
            if action in unused:
                assert not allowed, (action, resource)
