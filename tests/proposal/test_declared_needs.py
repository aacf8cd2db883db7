"""Declared needs, complete (issue 11, case 5): what a task definition makes a role need is kept,
scoped to what it names; a need the role used although its own policies do not grant it is
proposed, so that applying the proposal cannot take it away; a need neither granted nor seen is
a finding."""

from __future__ import annotations

from datetime import UTC, date, datetime

from builders import (
    ACCOUNT,
    EXECUTION_POLICY_ARN,
    REGION,
    arn,
    ecs,
    iam,
    role,
    sufficient_evidence,
    task_definition,
)

from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.build import proposal_policies
from rightsizer.proposal.rightsize import Window, rightsize
from rightsizer.store.records import UsageRow

TRAIL = settings_from_config({"name": "all"})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
MOMENT = datetime(2026, 10, 10, tzinfo=UTC)
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/app"


def create_group_call(calls: int = 8) -> UsageRow:
    return UsageRow(principal=arn("exec"), event_source="logs.amazonaws.com",
                    event_name="CreateLogGroup", region=REGION, account=ACCOUNT,
                    request_key='{"logGroupName":"/ecs/app"}', resource_arns=(),
                    day=MOMENT.date(), error_class="ok", invoked_by="", calls=calls,
                    first_seen=MOMENT, last_seen=MOMENT, error_code=None)


def result_for(rows: list[UsageRow], *, create_group: bool = True):
    options = {"awslogs-group": "/ecs/app", "awslogs-region": REGION,
               "awslogs-stream-prefix": "ecs"}
    if create_group:
        options["awslogs-create-group"] = "true"
    doc = task_definition("app", execution=arn("exec"), logConfiguration={
        "logDriver": "awslogs", "options": options})
    inventory = build_inventory(iam(role("exec", attached=(EXECUTION_POLICY_ARN,))), ecs(doc))
    (target,) = inventory.ecs_roles
    return rightsize(target, rows, sessions={}, trails=[TRAIL], exclusions=(), window=WINDOW,
                     min_window_days=30, today=date(2026, 11, 28),
                     sufficiency=sufficient_evidence())


def test_a_declared_need_used_but_granted_elsewhere_is_proposed() -> None:
    """The sample's payments-worker: awslogs-create-group, 8 successful CreateLogGroup calls,
    and no policy of the execution role grants logs:CreateLogGroup."""
    result = result_for([create_group_call()])
    assert result.proposal is not None and result.replay is not None and result.replay.passed
    assert "logs:CreateLogGroup" in result.proposed_actions
    policies = proposal_policies(result.proposal)
    assert evaluate(Request("logs:CreateLogGroup", GROUP), policies).allowed
    other = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/other"
    assert not evaluate(Request("logs:CreateLogGroup", other), policies).allowed
    assert [a.action for a in result.proposal.added] == ["logs:CreateLogGroup"]
    finding = next(f for f in result.findings if f.code == "DECLARED_NEED_GRANTED_ELSEWHERE")
    assert "logs:CreateLogGroup" in finding.message and "8 calls" in finding.message
    assert "awslogs-create-group" in finding.message


def test_a_declared_need_neither_granted_nor_seen_is_a_finding_not_a_grant() -> None:
    result = result_for([])
    assert result.proposal is not None
    assert "logs:CreateLogGroup" not in result.proposed_actions
    assert result.proposal.added == ()
    finding = next(f for f in result.findings if f.code == "DECLARED_NEED_NOT_GRANTED")
    assert "logs:CreateLogGroup" in finding.message and "/ecs/app" in finding.message


def test_a_used_action_nobody_declared_is_still_never_added() -> None:
    result = result_for([create_group_call()], create_group=False)
    assert result.proposal is not None
    assert "logs:CreateLogGroup" not in result.proposed_actions
    assert any(v.verdict == "used_not_granted" for v in result.verdicts)


def test_ecs_exec_seen_keeps_all_four_channel_actions() -> None:
    """A role seen opening an SSM Messages control channel uses ECS Exec: the data channels are
    never logged, and OpenControlChannel may not have been, but all four are needed."""
    from rightsizer.iam.observability import settings_from_config as trail_of

    exec_row = UsageRow(principal=arn("task"), event_source="ssmmessages.amazonaws.com",
                        event_name="CreateControlChannel", region=REGION, account=ACCOUNT,
                        request_key="", resource_arns=(), day=MOMENT.date(),
                        error_class="ok", invoked_by="", calls=3, first_seen=MOMENT,
                        last_seen=MOMENT, error_code=None)
    policy = {"Statement": [{"Effect": "Allow", "Action": "ssmmessages:*", "Resource": "*"}]}
    doc = task_definition("app", task=arn("task"))
    inventory = build_inventory(iam(role("task", inline={"p": policy})), ecs(doc))
    (target,) = inventory.ecs_roles
    trail = trail_of({"name": "all", "data_events": ["AWS::SSMMessages::ControlChannel"]})
    result = rightsize(target, [exec_row], sessions={}, trails=[trail], exclusions=(),
                       window=WINDOW, min_window_days=30, today=date(2026, 11, 28),
                       sufficiency=sufficient_evidence())
    by = {v.action: v for v in result.verdicts}
    assert by["ssmmessages:OpenControlChannel"].verdict == "required_by_task_definition"
    assert "ECS Exec" in by["ssmmessages:OpenControlChannel"].reason
    assert {"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"} <= set(
        result.proposed_actions)
