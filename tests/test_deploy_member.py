"""The read-only role rightsizer assumes in each member account (issue 16): one policy
(deploy/iam/member-policy.json), the same in CloudFormation (member-role.yaml, deployed to the
organization by member-stackset.yaml) and Terraform (terraform/member-role/), trusted by the
job's role alone, and allowing, by rightsizer's own evaluator, exactly the reads the job makes
of a member account."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from helpers import run_terraform
from test_deploy import PLUGIN_DIR, needs_aws_provider

from rightsizer.iam.catalog import catalog
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
POLICY = DEPLOY / "iam" / "member-policy.json"
ROLE_TEMPLATE = DEPLOY / "cloudformation" / "member-role.yaml"
STACKSET = DEPLOY / "cloudformation" / "member-stackset.yaml"
MODULE = DEPLOY / "terraform" / "member-role"
MEMBER, SECURITY = "444455556666", "111122223333"
JOB_ROLE = f"arn:aws:iam::{SECURITY}:role/rightsizer-job-task"
ORG = "o-abcdef1234"


def member_policy(account: str = MEMBER) -> dict[str, Any]:
    text = POLICY.read_text().replace("${AWS::Partition}", "aws")
    return json.loads(text.replace("${AWS::AccountId}", account))


def _plain(value: Any) -> Any:
    """A template value with ``!Sub`` strings as the text they substitute."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("template", [ROLE_TEMPLATE, STACKSET], ids=lambda p: p.name)
def test_the_templates_pass_cfn_lint(template: Path) -> None:
    command = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(command), str(template)], capture_output=True, text=True,
                            check=False, timeout=300)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_cloudformation_embeds_the_member_policy_and_trusts_the_job_alone() -> None:
    role = cfn_yaml.loads(ROLE_TEMPLATE.read_text())["Resources"]["ReadRole"]["Properties"]
    (policy,) = role["Policies"]
    assert _plain(policy["PolicyDocument"]) == json.loads(POLICY.read_text())
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "JobRoleArn"}}
    assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    stackset = cfn_yaml.loads(STACKSET.read_text())["Resources"]["ReadRoles"]["Properties"]
    assert stackset["PermissionModel"] == "SERVICE_MANAGED"
    assert stackset["AutoDeployment"]["Enabled"] is True  # accounts that join get it too


def _calls(account: str = MEMBER) -> list[tuple[str, str]]:
    """What the job reads of a member account (sources/iam.py, ecs.py, trail.py,
    last_accessed.py)."""
    return [
        ("iam:GetAccountAuthorizationDetails", "*"),
        ("iam:GetPolicy", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy"),
        ("iam:GetPolicyVersion", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy"),
        ("iam:GetPolicy", f"arn:aws:iam::{account}:policy/app/reports-read"),
        ("iam:GetPolicyVersion", f"arn:aws:iam::{account}:policy/app/reports-read"),
        ("iam:GenerateServiceLastAccessedDetails", f"arn:aws:iam::{account}:role/ecs/app"),
        ("iam:GetServiceLastAccessedDetails", "*"),
        ("ecs:ListTaskDefinitions", "*"),
        ("ecs:DescribeTaskDefinition", "*"),
        ("cloudtrail:DescribeTrails", "*"),
        ("cloudtrail:ListPublicKeys", "*"),
        ("cloudtrail:GetEventSelectors", f"arn:aws:cloudtrail:eu-west-1:{account}:trail/org"),
    ]


def test_the_member_policy_allows_the_reads_and_nothing_else() -> None:
    policy = parse_policy(member_policy(), name="member")
    for action, resource in _calls():
        assert evaluate(Request(action, resource), [policy]).allowed, (action, resource)
    # Another account's policy or role, and any write, are refused.
    for action, resource in [("iam:GetPolicy", f"arn:aws:iam::{SECURITY}:policy/x"),
                             ("iam:GenerateServiceLastAccessedDetails",
                              f"arn:aws:iam::{SECURITY}:role/x"),
                             ("iam:PutRolePolicy", f"arn:aws:iam::{MEMBER}:role/x"),
                             ("cloudtrail:StopLogging", "*"), ("sts:AssumeRole", "*")]:
        assert not evaluate(Request(action, resource), [policy]).allowed, (action, resource)
    # Every action of the services, on every resource named above and on "*".
    expected = {(a.lower(), r) for a, r in _calls()}
    resources = sorted({r for _, r in _calls()} | {"*", f"arn:aws:iam::{SECURITY}:policy/x"})
    unexpected = [
        (info.key, resource)
        for service in ("iam", "ecs", "cloudtrail", "sts", "s3", "kms")
        for info in catalog().service_actions(service).values()
        for resource in resources
        if evaluate(Request(info.key, resource), [policy]).allowed
        and not {(info.key.lower(), resource), (info.key.lower(), "*")} & expected]
    assert unexpected == []


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not installed")
def test_terraform_formats_and_reads_the_same_policy_file() -> None:
    result = run_terraform(["fmt", "-check", "-recursive"], MODULE)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (MODULE / "main.tf").read_text()
    assert 'file("${path.module}/../../iam/member-policy.json")' in text


TFTEST = """
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "%(member)s" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
}

variables {
  job_role_arn    = "%(job)s"
  organization_id = "%(org)s"
}

run "the_member_role" {
  command = plan
  assert {
    condition     = jsondecode(aws_iam_role_policy.read.policy) == jsondecode(file("expected.json"))
    error_message = "the role's policy is not member-policy.json for this account"
  }
  assert {
    condition = jsondecode(aws_iam_role.read.assume_role_policy).Statement[0].Principal.AWS == (
      "%(job)s"
    )
    error_message = "only the job's role may assume it"
  }
}
"""


@needs_aws_provider
def test_terraform_plans_the_member_policy_for_its_account(tmp_path: Path) -> None:
    (tmp_path / "iam").mkdir()
    shutil.copy(POLICY, tmp_path / "iam" / "member-policy.json")
    module = tmp_path / "terraform" / "member-role"
    shutil.copytree(MODULE, module, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    (module / "expected.json").write_text(json.dumps(member_policy()))
    (module / "tests").mkdir()
    (module / "tests" / "member.tftest.hcl").write_text(
        TFTEST % {"member": MEMBER, "job": JOB_ROLE, "org": ORG})
    init = ["init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"]
    for args in (init, ["validate"], ["test"]):
        result = run_terraform(args, module)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "1 passed, 0 failed" in result.stdout


def test_the_job_may_assume_the_member_role_in_the_organization_and_nothing_else() -> None:
    """deploy/iam/job-organization-policy.json, added to the job's role for --organization /
    --account with --assume-role: sts:AssumeRole on the member role in the organization's
    accounts (aws:ResourceOrgID: https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_condition-keys.html#condition-keys-resourceorgid), and
    organizations:ListAccounts."""
    text = (DEPLOY / "iam" / "job-organization-policy.json").read_text()
    for name, value in (("${AWS::Partition}", "aws"), ("${MemberRoleName}", "rightsizer-read"),
                        ("${OrganizationId}", ORG)):
        text = text.replace(name, value)
    policy = parse_policy(json.loads(text), name="job-organization")
    member = f"arn:aws:iam::{MEMBER}:role/rightsizer-read"
    in_org = {"aws:ResourceOrgID": (ORG,)}
    assert evaluate(Request("sts:AssumeRole", member, in_org, True), [policy]).allowed
    assert evaluate(Request("organizations:ListAccounts", "*"), [policy]).allowed
    refused = [
        Request("sts:AssumeRole", member, {"aws:ResourceOrgID": ("o-other12345",)}, True),
        Request("sts:AssumeRole", f"arn:aws:iam::{MEMBER}:role/admin", in_org, True),
        Request("organizations:DescribeAccount", "*"),
        Request("organizations:CreateAccount", "*"),
    ]
    for request in refused:
        assert not evaluate(request, [policy]).allowed, request
