"""Issue 12, case 15: trust policies with security weight. A wildcard principal, ``{"AWS":
"*"}``, ``NotPrincipal`` or ``NotAction`` in an Allow of a role's trust policy were parsed but
never reported. Each is a finding now, critical when anyone in any account can assume the role
(no condition), high when only conditions keep others out or when the actions are open."""

from __future__ import annotations

from typing import Any

import pytest
from builders import ACCOUNT, ECS_TRUST, allow, arn, ecs, iam, role, task_definition

from rightsizer.analysis.findings import Severity
from rightsizer.analysis.inventory import build_inventory


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ECS_ALLOW = ECS_TRUST["Statement"][0]
ORG_ONLY = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}


@pytest.mark.parametrize(("document", "expected"), [
    # The sample's own shape: ecs-tasks, with a source condition. Nothing to say.
    (ECS_TRUST, {}),
    (trust({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
     {"TRUST_ANYONE": Severity.CRITICAL}),
    (trust({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
     {"TRUST_ANYONE": Severity.CRITICAL}),
    (trust({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]},
            "Action": "sts:AssumeRole"}),
     {"TRUST_ANYONE": Severity.CRITICAL}),
    (trust({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::444455556666:root"},
            "Action": "sts:AssumeRole"}),
     {"TRUST_ANYONE": Severity.CRITICAL}),
    (trust({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
            "Condition": ORG_ONLY}),
     {"TRUST_OPEN_CONDITIONED": Severity.HIGH}),
    (trust({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "NotAction": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}),
     {"TRUST_NOT_ACTION": Severity.HIGH}),
    # Both at once: two findings.
    (trust({"Effect": "Allow", "Principal": "*", "NotAction": "iam:*"}),
     {"TRUST_ANYONE": Severity.CRITICAL, "TRUST_NOT_ACTION": Severity.HIGH}),
    # A Deny with a wildcard principal is a guard, not an opening.
    (trust(ECS_ALLOW, {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}), {}),
], ids=["ecs-with-source", "star", "aws-star", "aws-list-with-star", "not-principal",
        "star-with-org-condition", "not-action", "star-and-not-action", "deny-star"])
def test_open_trust_is_a_finding_with_its_weight(document: dict[str, Any],
                                                 expected: dict[str, Severity]) -> None:
    app_role = role("app", trust=document, inline={"p": allow("s3:GetObject")})
    inventory = build_inventory(iam(app_role), ecs(task_definition("a", task=arn("app"))))
    app = next(r for r in inventory.roles if r.name == "app")
    found = {f.code: f.severity for f in app.findings if f.code.startswith("TRUST_")}
    assert found == expected
    for finding in app.findings:
        if finding.code.startswith("TRUST_"):
            assert "inline" not in finding.message and "trust policy of app" in finding.message
