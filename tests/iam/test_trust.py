"""Trust policies: can ecs-tasks.amazonaws.com assume the role, and is the trust guarded?"""

from __future__ import annotations

from typing import Any

import pytest

from rightsizer.iam.policy import parse_policy
from rightsizer.iam.trust import ECS_TASKS, service_trust


def trust(*statements: dict[str, Any]) -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)},
                        name="trust", kind="trust")


ECS = {"Service": "ecs-tasks.amazonaws.com"}
GUARD = {"StringEquals": {"aws:SourceAccount": "111122223333"}}


@pytest.mark.parametrize(
    ("statements", "assumable", "guarded", "reason_part"),
    [
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole"}], True, False,
         "may sts:AssumeRole"),
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole", "Condition": GUARD}],
         True, True, "may sts:AssumeRole"),
        ([{"Effect": "Allow", "Principal": ECS, "Action": ["sts:AssumeRole"],
           "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:1:*"}}}],
         True, True, "may"),
        ([{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
           "Action": "sts:AssumeRole"}], False, False, "ec2.amazonaws.com"),
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRoleWithWebIdentity"}],
         False, False, "other actions than sts:AssumeRole"),
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:*"}], True, False, "may"),
        ([{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}], True, False, "may"),
        ([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
           "Action": "sts:AssumeRole"}], False, False, "no statement lets"),
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole"},
          {"Effect": "Deny", "Principal": ECS, "Action": "sts:AssumeRole"}], False, False,
         "denies"),
        # Only some allowing statements guarded: a request can take the unguarded path.
        ([{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole", "Condition": GUARD},
          {"Effect": "Allow", "Principal": {"Service": ["ECS-Tasks.amazonaws.com"]},
           "Action": "sts:AssumeRole"}], True, False, "may"),
    ],
)
def test_service_trust(statements: list[dict[str, Any]], assumable: bool, guarded: bool,
                       reason_part: str) -> None:
    answer = service_trust(trust(*statements), ECS_TASKS)
    assert answer.assumable is assumable
    assert answer.source_condition is guarded
    assert reason_part in answer.reason
    assert bool(answer.allowing) is assumable


def test_no_trust_policy() -> None:
    answer = service_trust(None)
    assert not answer.assumable and "no trust policy" in answer.reason


def test_lists_every_trusted_service() -> None:
    answer = service_trust(trust(
        {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", ECS["Service"]]},
         "Action": "sts:AssumeRole"}))
    assert answer.trusted_services == ("ecs-tasks.amazonaws.com", "lambda.amazonaws.com")
