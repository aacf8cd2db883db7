"""The scheduled job's deployment (deploy/, Dockerfile): each file checked by what reads it.

cfn-lint reads the CloudFormation template, python-hcl2 and Terraform itself (``fmt``,
``console``, and with a local AWS provider ``validate`` and ``test`` against a mock provider, all
offline) read the Terraform. The task role's policy is ``deploy/iam/job-policy.json``: the
template and the Terraform must give the same document, and rightsizer's own evaluator
(``rightsizer.iam.evaluate``) decides that it allows every call the job makes and nothing else of
the services it touches. The other two roles are evaluated the same way."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import hcl2
import pytest
from cfnlint.decode import cfn_yaml
from helpers import run_terraform

from rightsizer.iam.catalog import catalog
from rightsizer.iam.evaluate import Decision, Request, evaluate
from rightsizer.iam.policy import Policy, parse_policy
from rightsizer.iam.trust import ECS_TASKS, service_trust

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
JOB_POLICY = DEPLOY / "iam" / "job-policy.json"
TEMPLATE = DEPLOY / "cloudformation" / "scheduled-task.yaml"
TERRAFORM = DEPLOY / "terraform"
DOCKERFILE = ROOT / "Dockerfile"

ACCOUNT = "111122223333"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/platform"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "rightsizer",
}
PREFIXES = ["", "cloudtrail/"]
ENV_NAMES = {
    "RIGHTSIZER_SOURCES_ATHENA",
    "RIGHTSIZER_SOURCES_IAM",
    "RIGHTSIZER_SOURCES_ECS",
    "RIGHTSIZER_ATHENA_WORKGROUP",
    "RIGHTSIZER_ATHENA_OUTPUT_LOCATION",
    "RIGHTSIZER_ATHENA_REGION",
    "RIGHTSIZER_AWS_REGION",
    "RIGHTSIZER_STORE_PATH",
    "RIGHTSIZER_OUTPUT_FOLDER",
    "RIGHTSIZER_OUTPUT_DATED",
    "RIGHTSIZER_LOGGING_FORMAT",
    "RIGHTSIZER_WINDOW_DAYS",
}
# Each placeholder of job-policy.json that is a stack parameter: its Terraform variable.
TF_VARIABLE = {
    "AthenaWorkGroup": "athena_workgroup",
    "GlueDatabase": "glue_database",
    "GlueTable": "glue_table",
    "TrailBucket": "trail_bucket",
    "TrailPrefix": "trail_prefix",
    "TrailArn": "trail_arn",
    "TrailKmsKeyArn": "trail_kms_key_arn",
    "ResultsBucket": "results_bucket",
    "ResultsPrefix": "results_prefix",
}
TF_PSEUDO = {
    "AWS::Partition": "${local.partition}",
    "AWS::Region": "${local.region}",
    "AWS::AccountId": "${local.account_id}",
}


def parameters(prefix: str = "", *, kms: bool = True, cluster: str = "") -> dict[str, Any]:
    """The stack parameters of the test account (the brief's concrete values)."""
    return {
        "ImageRepository": "rightsizer",
        "ImageTag": "0.1.0",
        "ClusterArn": cluster,
        "VpcId": "vpc-0123456789abcdef0",
        "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "SecurityGroupId": "sg-0123456789abcdef0",
        "TrailBucket": "org-trail",
        "TrailPrefix": prefix,
        "TrailArn": TRAIL_ARN,
        "TrailKmsKeyArn": KEY_ARN if kms else "",
        "GlueDatabase": "cloudtrail",
        "GlueTable": "org_trail",
        "AthenaWorkGroup": "rightsizer",
        "ResultsBucket": "athena-results",
        "ResultsPrefix": "rightsizer/",
    }


def placeholder_values(prefix: str = "", *, kms: bool = True) -> dict[str, str]:
    params = parameters(prefix, kms=kms)
    return {**PSEUDO, **{name: params[name] for name in TF_VARIABLE}}


# --------------------------------------------------------------------------------------------
# deploy/iam/job-policy.json

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        return values[match.group(1)]  # KeyError: a placeholder nobody fills

    return PLACEHOLDER.sub(one, text)


def json_policy(prefix: str = "", *, kms: bool = True) -> dict[str, Any]:
    """job-policy.json as the stacks deploy it: without the KMS statement when there is no key."""
    document = json.loads(substitute(JOB_POLICY.read_text(), placeholder_values(prefix, kms=kms)))
    if not kms:
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "TrailKmsDecrypt"]
    return document


def test_job_policy_placeholders_are_stack_parameters() -> None:
    names = set(PLACEHOLDER.findall(JOB_POLICY.read_text()))
    assert names == set(TF_VARIABLE) | set(TF_PSEUDO)
    declared = set(template()["Parameters"])
    assert set(TF_VARIABLE) <= declared


def test_job_policy_has_no_wildcard_action_and_only_allows() -> None:
    document = json.loads(JOB_POLICY.read_text())
    assert document["Version"] == "2012-10-17"
    for statement in document["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action  # no "*", "s3:*"
    assert len({s["Sid"] for s in document["Statement"]}) == len(document["Statement"])


# --------------------------------------------------------------------------------------------
# CloudFormation: cfn-lint, and a resolver for the intrinsic functions the template uses

NO_VALUE = object()


def template() -> dict[str, Any]:
    return cfn_yaml.loads(TEMPLATE.read_text())


def test_cloudformation_passes_the_cfn_lint_command() -> None:
    command = Path(sys.executable).with_name("cfn-lint")
    assert command.is_file(), f"{command}: install the dev extra (pip install -e '.[dev]')"
    result = subprocess.run(
        [str(command), str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=300
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


class Stack:
    """The template resolved for one set of parameters, as CloudFormation would deploy it."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.template = template()
        declared = self.template["Parameters"]
        given = {k: v["Default"] for k, v in declared.items() if "Default" in v}
        given.update({k: v for k, v in params.items() if k in declared})
        # CloudFormation hands every parameter over as a string (a List<...> as a list).
        self.params = {k: v if isinstance(v, list) else str(v) for k, v in given.items()}
        self.conditions = {
            name: self._condition(body) for name, body in self.template["Conditions"].items()
        }

    def resource(self, logical_id: str) -> dict[str, Any]:
        raw = self.template["Resources"][logical_id]
        if "Condition" in raw and not self.conditions[raw["Condition"]]:
            raise KeyError(f"{logical_id} is not created")
        return {"Type": raw["Type"], "Properties": self.resolve(raw["Properties"])}

    def _condition(self, body: Any) -> bool:
        ((function, args),) = body.items()
        if function == "Fn::Equals":
            return self.resolve(args[0]) == self.resolve(args[1])
        if function == "Fn::Not":
            return not self._condition(args[0])
        raise AssertionError(f"condition function {function} not handled")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        properties = self.template["Resources"][name]["Properties"]
        if name == "TaskDefinition":
            return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{self._ref('Family')}:1"
        if name == "LogGroup":
            return self.resolve(properties["LogGroupName"])
        return f"{name.lower()}-0123456789abcdef0"

    def _get_att(self, name: str, attribute: str) -> str:
        assert attribute == "Arn", (name, attribute)
        if name == "LogGroup":  # CloudFormation's Arn of a log group ends in ":*"
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self._ref('LogGroup')}:*"
        if name == "Cluster":
            return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/rightsizer-Cluster-AbC123"
        if name.endswith("Role"):
            return f"arn:aws:iam::{ACCOUNT}:role/rightsizer-{name}-AbC123"
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/rightsizer-{name}-AbC123"

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return PLACEHOLDER.sub(one, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            if len(node) == 1:
                ((function, args),) = node.items()
                if function == "Ref":
                    return self._ref(args)
                if function == "Fn::Sub":
                    if isinstance(args, str):
                        return self._sub(args, {})
                    variables = {k: self.resolve(v) for k, v in args[1].items()}
                    return self._sub(args[0], variables)
                if function == "Fn::If":
                    chosen = args[1] if self.conditions[args[0]] else args[2]
                    return self.resolve(chosen)
                if function == "Fn::GetAtt":
                    name, attribute = args.split(".", 1) if isinstance(args, str) else args
                    return self._get_att(name, attribute)
                if function == "Fn::Select":
                    return self.resolve(args[1])[int(args[0])]
                assert not function.startswith("Fn::"), f"{function} not handled"
            out = {k: self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        return node

    def role_policy(self, role: str) -> dict[str, Any]:
        (policy,) = self.resource(role)["Properties"]["Policies"]
        return policy["PolicyDocument"]


# --------------------------------------------------------------------------------------------
# Terraform: python-hcl2, terraform fmt, terraform console over the policy block, terraform test

needs_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform not installed"
)
# A local provider mirror (terraform init -plugin-dir) makes validate and test possible offline.
PLUGIN_DIR = Path(os.environ.get("RIGHTSIZER_TF_PLUGIN_DIR", "/opt/tf-plugins"))
needs_aws_provider = pytest.mark.skipif(
    shutil.which("terraform") is None
    or not any(PLUGIN_DIR.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")),
    reason=f"terraform or a local hashicorp/aws provider in {PLUGIN_DIR} missing",
)


def terraform_files() -> dict[str, dict[str, Any]]:
    return {path.name: hcl2.loads(path.read_text()) for path in sorted(TERRAFORM.glob("*.tf"))}


def terraform_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in terraform_files()["main.tf"]["locals"]:
        merged.update(block)
    return merged


def terraform_resources() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for block in terraform_files()["main.tf"]["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                out[(kind.strip('"'), name.strip('"'))] = body
    return out


def test_terraform_parses_and_terraform_fmt_accepts_it() -> None:
    files = terraform_files()
    assert set(files) == {"main.tf", "variables.tf", "outputs.tf"}
    variables = {k.strip('"') for block in files["variables.tf"]["variable"] for k in block}
    assert set(TF_VARIABLE.values()) <= variables
    assert "aws_iam_role_policy_attachment" not in {kind for kind, _ in terraform_resources()}
    if shutil.which("terraform") is None:
        pytest.skip("terraform not installed: python-hcl2 checked only")
    result = run_terraform(["fmt", "-check", "-diff", "-recursive", str(TERRAFORM)], ROOT)
    assert (result.returncode, result.stdout) == (0, "")


def test_terraform_fills_each_placeholder_from_its_variable() -> None:
    values = {k.strip('"'): v for k, v in terraform_locals()["job_policy_values"].items()}
    expected = {name: f"${{var.{variable}}}" for name, variable in TF_VARIABLE.items()}
    assert values == {**expected, **TF_PSEUDO}
    task_policy = terraform_resources()[("aws_iam_role_policy", "task")]
    assert task_policy["policy"] == "${jsonencode(local.job_policy)}"
    assert "../iam/job-policy.json" in terraform_locals()["job_policy_parts"]


def _policy_block() -> str:
    """The locals block of main.tf that renders the job policy (it reads only the values map)."""
    text = (TERRAFORM / "main.tf").read_text()
    match = re.search(r"^locals \{\n  job_policy_parts = .*?^\}\n", text, re.M | re.S)
    assert match, "main.tf: no locals block starting with job_policy_parts"
    return match.group(0)


def terraform_policy(tmp_path: Path, prefix: str, *, kms: bool) -> dict[str, Any]:
    """Terraform's own rendering of the job policy for the test values (terraform console)."""
    (tmp_path / "iam").mkdir()
    shutil.copy(JOB_POLICY, tmp_path / "iam" / "job-policy.json")
    module = tmp_path / "terraform"
    module.mkdir()
    entries = "\n".join(
        f"    {json.dumps(k)} = {json.dumps(v)}"
        for k, v in placeholder_values(prefix, kms=kms).items()
        if k in TF_VARIABLE or k in TF_PSEUDO
    )
    stub = f"locals {{\n  job_policy_values = {{\n{entries}\n  }}\n}}\n"
    (module / "main.tf").write_text(_policy_block() + stub)
    result = run_terraform(["console"], module, stdin="jsonencode(local.job_policy)\n")
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout))


# --------------------------------------------------------------------------------------------
# 3. one policy, three renderings


@pytest.mark.parametrize("kms", [True, False], ids=["kms", "no-kms"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_cloudformation_embeds_the_job_policy(prefix: str, kms: bool) -> None:
    expected = json_policy(prefix, kms=kms)
    stack = Stack(parameters(prefix, kms=kms))
    assert stack.role_policy("TaskRole") == expected
    has_kms = any(s["Sid"] == "TrailKmsDecrypt" for s in expected["Statement"])
    assert has_kms is kms


@needs_terraform
@pytest.mark.parametrize("kms", [True, False], ids=["kms", "no-kms"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_terraform_renders_the_job_policy(tmp_path: Path, prefix: str, kms: bool) -> None:
    assert terraform_policy(tmp_path, prefix, kms=kms) == json_policy(prefix, kms=kms)


def test_terraform_rendering_fails_on_an_unknown_placeholder(tmp_path: Path) -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform not installed")
    original = JOB_POLICY.read_text()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "iam").mkdir()
    (broken / "terraform").mkdir()
    (broken / "iam" / "job-policy.json").write_text(original.replace("${GlueTable}", "${Nope}"))
    entries = "\n".join(f"    {json.dumps(k)} = {json.dumps(v)}" for k, v in PSEUDO.items())
    stub = f"locals {{\n  job_policy_values = {{\n{entries}\n  }}\n}}\n"
    (broken / "terraform" / "main.tf").write_text(_policy_block() + stub)
    result = run_terraform(["console"], broken / "terraform", stdin="local.job_policy\n")
    assert result.returncode != 0


def test_environment_is_the_same_in_both_task_definitions() -> None:
    stack = Stack(parameters("cloudtrail/"))
    (container,) = stack.resource("TaskDefinition")["Properties"]["ContainerDefinitions"]
    cfn = {e["Name"]: e["Value"] for e in container["Environment"]}
    terraform = terraform_locals()["environment"]
    assert set(cfn) == set(terraform) == ENV_NAMES
    assert cfn == {
        "RIGHTSIZER_SOURCES_ATHENA": "athena://cloudtrail.org_trail",
        "RIGHTSIZER_SOURCES_IAM": "aws",
        "RIGHTSIZER_SOURCES_ECS": "aws",
        "RIGHTSIZER_ATHENA_WORKGROUP": "rightsizer",
        "RIGHTSIZER_ATHENA_OUTPUT_LOCATION": "s3://athena-results/rightsizer/",
        "RIGHTSIZER_ATHENA_REGION": REGION,
        "RIGHTSIZER_AWS_REGION": REGION,
        "RIGHTSIZER_STORE_PATH": "/data/rightsizer.duckdb",
        "RIGHTSIZER_OUTPUT_FOLDER": "/data/out",
        "RIGHTSIZER_OUTPUT_DATED": "true",
        "RIGHTSIZER_LOGGING_FORMAT": "json",
        "RIGHTSIZER_WINDOW_DAYS": "90",
    }
    for name in ENV_NAMES:  # the constants are the same literal in Terraform
        if "${" not in terraform[name]:
            assert json.loads(terraform[name]) == cfn[name], name


TFTEST = """
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "%(account)s" }
  }
  mock_data "aws_region" {
    defaults = { name = "%(region)s" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
}

variables {
  image_repository  = "rightsizer"
  image_tag         = "0.1.0"
  vpc_id            = "vpc-0123456789abcdef0"
  subnet_ids        = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_id = "sg-0123456789abcdef0"
  trail_bucket      = "org-trail"
  trail_prefix      = "cloudtrail/"
  trail_arn         = "%(trail_arn)s"
  glue_table        = "org_trail"
  results_bucket    = "athena-results"
}

run "with_kms_key" {
  command = plan
  variables {
    trail_kms_key_arn = "%(key_arn)s"
  }
  assert {
    condition = (
      jsondecode(aws_iam_role_policy.task.policy) == jsondecode(file("expected/kms.json"))
    )
    error_message = "the task role policy is not job-policy.json"
  }
  assert {
    condition     = jsondecode(output.job_policy_json) == jsondecode(file("expected/kms.json"))
    error_message = "output job_policy_json is not job-policy.json"
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.job.container_definitions)[0].environment :
      e.name => e.value
    } == jsondecode(file("expected/environment.json"))
    error_message = "the environment differs from the CloudFormation task definition's"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.schedule.schedule_expression == "cron(0 3 * * ? *)"
    error_message = "the default schedule is daily 03:00 UTC"
  }
  assert {
    condition = (
      aws_cloudwatch_event_target.job.ecs_target[0].network_configuration[0].assign_public_ip
      == false
    )
    error_message = "assign_public_ip must be false"
  }
  assert {
    condition = (
      aws_ecs_task_definition.job.cpu == "1024" && aws_ecs_task_definition.job.memory == "4096"
      && aws_ecs_task_definition.job.ephemeral_storage[0].size_in_gib == 40
    )
    error_message = "task size defaults: 1 vCPU, 4 GiB, 40 GiB ephemeral"
  }
  assert {
    condition = (
      aws_efs_access_point.store.posix_user[0].uid == %(uid)s
      && aws_efs_access_point.store.posix_user[0].gid == %(uid)s
    )
    error_message = "the access point acts as the image's user"
  }
}

run "without_kms_key" {
  command = plan
  assert {
    condition = (
      jsondecode(aws_iam_role_policy.task.policy) == jsondecode(file("expected/no-kms.json"))
    )
    error_message = "the task role policy is not job-policy.json without its KMS statement"
  }
}
"""


@needs_aws_provider
def test_terraform_validates_and_plans_the_same_stack(tmp_path: Path) -> None:
    # The whole configuration, planned against a mock AWS provider (terraform test): the task
    # role's policy and the task's environment are exactly the CloudFormation stack's.
    (tmp_path / "iam").mkdir()
    shutil.copy(JOB_POLICY, tmp_path / "iam" / "job-policy.json")
    module = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, module, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    (module / "expected").mkdir()
    stack = Stack(parameters("cloudtrail/"))
    (container,) = stack.resource("TaskDefinition")["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    (module / "expected" / "environment.json").write_text(json.dumps(environment))
    (module / "expected" / "kms.json").write_text(json.dumps(json_policy("cloudtrail/")))
    no_kms = json_policy("cloudtrail/", kms=False)
    (module / "expected" / "no-kms.json").write_text(json.dumps(no_kms))
    (module / "tests").mkdir()
    (module / "tests" / "deploy.tftest.hcl").write_text(
        TFTEST
        % {
            "account": ACCOUNT,
            "region": REGION,
            "trail_arn": TRAIL_ARN,
            "key_arn": KEY_ARN,
            "uid": dockerfile_uid(),
        }
    )
    init = ["init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"]
    for args in (init, ["validate"], ["test"]):
        result = run_terraform(args, module)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "2 passed, 0 failed" in result.stdout


# --------------------------------------------------------------------------------------------
# 4. least privilege of the task role, decided by rightsizer's evaluator

SERVICES = ("s3", "athena", "glue", "kms", "iam", "ecs", "cloudtrail", "sts", "ecr", "logs")
WORKGROUP = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/rightsizer"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
GLUE_RESOURCES = (
    f"{GLUE}:catalog",
    f"{GLUE}:database/cloudtrail",
    f"{GLUE}:table/cloudtrail/org_trail",
)
RESULT_OBJECT = "arn:aws:s3:::athena-results/rightsizer/8a1c2f0e-5a2b-4c1d-9e3f-0a1b2c3d4e5f.csv"

Call = tuple[str, str, dict[str, tuple[str, ...]]]


def trail_object(prefix: str) -> str:
    return (
        f"arn:aws:s3:::org-trail/{prefix}AWSLogs/o-abc/{ACCOUNT}/CloudTrail/{REGION}/2026/11/01/"
        f"{ACCOUNT}_CloudTrail_{REGION}_20261101T0005Z_x.json.gz"
    )


def job_calls(prefix: str) -> list[Call]:
    """Every call the job makes, on the resource IAM authorizes it against."""
    day = f"{prefix}AWSLogs/o-abc/{ACCOUNT}/CloudTrail/{REGION}/2026/11/01/"
    calls: list[Call] = [
        (f"athena:{name}", WORKGROUP, {})
        for name in (
            "StartQueryExecution",
            "GetQueryExecution",
            "GetQueryResults",
            "StopQueryExecution",
        )
    ]
    calls += [
        (f"glue:{name}", arn, {})
        for name in ("GetDatabase", "GetTable", "GetPartitions")
        for arn in GLUE_RESOURCES
    ]
    calls += [
        ("s3:GetObject", trail_object(prefix), {}),
        ("s3:ListBucket", "arn:aws:s3:::org-trail", {"s3:prefix": (day,)}),
        ("s3:GetBucketLocation", "arn:aws:s3:::org-trail", {}),
        *(
            (action, key, {})
            for action in ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload")
            for key in (RESULT_OBJECT, RESULT_OBJECT + ".metadata")
        ),
        ("s3:ListBucket", "arn:aws:s3:::athena-results", {"s3:prefix": ("rightsizer/",)}),
        ("s3:GetBucketLocation", "arn:aws:s3:::athena-results", {}),
        ("kms:Decrypt", KEY_ARN, {}),
        ("iam:GetAccountAuthorizationDetails", "*", {}),
        # A managed policy missing from the listing is read on its own (sources/iam.py).
        ("iam:GetPolicy", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy", {}),
        ("iam:GetPolicyVersion", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy", {}),
        ("iam:GetPolicy", f"arn:aws:iam::{ACCOUNT}:policy/app/reports-read", {}),
        ("iam:GetPolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app/reports-read", {}),
        ("ecs:ListTaskDefinitions", "*", {}),
        ("ecs:DescribeTaskDefinition", "*", {}),
        ("cloudtrail:DescribeTrails", "*", {}),
        ("cloudtrail:ListPublicKeys", "*", {}),  # to check the digests (log integrity)
        ("cloudtrail:GetEventSelectors", TRAIL_ARN, {}),
    ]
    return calls


def refused_calls(prefix: str) -> list[Call]:
    outside = "arn:aws:s3:::org-trail/" + ("AWSLogs/x.json.gz" if prefix else "private/x.json.gz")
    role = f"arn:aws:iam::{ACCOUNT}:role/admin"
    return [
        ("s3:PutObject", trail_object(prefix), {}),
        ("s3:DeleteObject", trail_object(prefix), {}),
        ("s3:PutObjectAcl", trail_object(prefix), {}),
        ("s3:GetObject", "arn:aws:s3:::other-bucket/AWSLogs/x.json.gz", {}),
        ("s3:GetObject", outside, {}),
        ("s3:ListBucket", "arn:aws:s3:::org-trail", {"s3:prefix": ("secrets/",)}),
        ("s3:ListBucket", "arn:aws:s3:::org-trail", {}),
        ("s3:ListBucket", "arn:aws:s3:::other-bucket", {"s3:prefix": ("AWSLogs/",)}),
        ("s3:PutObject", "arn:aws:s3:::athena-results/other/x.csv", {}),
        ("s3:DeleteObject", RESULT_OBJECT, {}),
        ("s3:DeleteBucket", "arn:aws:s3:::athena-results", {}),
        ("athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary", {}),
        ("athena:DeleteWorkGroup", WORKGROUP, {}),
        ("athena:UpdateWorkGroup", WORKGROUP, {}),
        *(("glue:CreateTable", arn, {}) for arn in GLUE_RESOURCES),
        ("glue:DeleteTable", GLUE_RESOURCES[2], {}),
        ("glue:GetTable", f"{GLUE}:table/finance/org_trail", {}),
        ("glue:GetTable", f"{GLUE}:database/finance", {}),
        ("iam:PassRole", role, {"iam:PassedToService": ("ecs-tasks.amazonaws.com",)}),
        ("iam:CreateRole", role, {}),
        ("iam:PutRolePolicy", role, {}),
        ("iam:AttachRolePolicy", role, {}),
        ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app/reports-read", {}),
        ("iam:GetPolicy", "arn:aws:iam::210987654321:policy/other-account", {}),
        ("ecs:RunTask", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/rightsizer:1", {}),
        ("ecs:RegisterTaskDefinition", "*", {}),
        ("kms:Decrypt", KEY_ARN.replace("1234abcd-", "ffffffff-"), {}),
        ("kms:Encrypt", KEY_ARN, {}),
        ("sts:AssumeRole", role, {}),
        ("cloudtrail:GetEventSelectors", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/other", {}),
        ("cloudtrail:StopLogging", TRAIL_ARN, {}),
        ("cloudtrail:DeleteTrail", TRAIL_ARN, {}),
        ("*", "*", {}),
        ("*", trail_object(prefix), {}),
    ]


def decide(call: Call, policy: Policy) -> Decision:
    action, resource, context = call
    return evaluate(Request(action, resource, context=context, context_complete=True), [policy])


def test_the_evaluator_tables_can_fail() -> None:
    # A wide grant is caught by both tables: the checks below are not vacuous.
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    wide = parse_policy({"Version": "2012-10-17", "Statement": [statement]}, name="wide")
    assert decide(refused_calls("")[0], wide).allowed
    assert not decide(job_calls("")[0], wide).allowed


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_task_role_allows_every_call_the_job_makes(prefix: str) -> None:
    policy = parse_policy(json_policy(prefix), name="job", kind="inline")
    for call in job_calls(prefix):
        decision = decide(call, policy)
        assert decision.allowed and not decision.conditional, (call, decision)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_task_role_refuses_what_the_job_must_not_do(prefix: str) -> None:
    policy = parse_policy(json_policy(prefix), name="job", kind="inline")
    for call in refused_calls(prefix):
        assert not decide(call, policy).allowed, call


def _sweep(
    policy: Policy, allowed: set[tuple[str, str]], services: tuple[str, ...], tried: list[Call]
) -> None:
    """Every action of the services, on every resource of the tables and on "*": allowed (even
    only conditionally, when the request carries no condition keys) exactly where expected. An
    action expected on "*" (it takes no resource) is expected on every resource."""
    resources = sorted({r for _, r in allowed} | {r for _, r, _ in tried} | {"*"})
    unexpected = []
    for service in services:
        for info in catalog().service_actions(service).values():
            for resource in resources:
                decision = evaluate(Request(info.key, resource), [policy])
                key = info.key.lower()
                if decision.allowed and not {(key, resource), (key, "*")} & allowed:
                    unexpected.append((info.key, resource))
    assert unexpected == []


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_task_role_allows_nothing_else(prefix: str) -> None:
    policy = parse_policy(json_policy(prefix), name="job", kind="inline")
    allowed = {(a.lower(), r) for a, r, _ in job_calls(prefix)}
    _sweep(policy, allowed, SERVICES, refused_calls(prefix))


def test_the_task_role_without_a_kms_key_grants_no_kms() -> None:
    policy = parse_policy(json_policy(kms=False), name="job", kind="inline")
    assert not decide(("kms:Decrypt", KEY_ARN, {}), policy).allowed
    assert not decide(("kms:Decrypt", "*", {}), policy).allowed


# --------------------------------------------------------------------------------------------
# 5. the execution role and the EventBridge role of the template

LOG_STREAM = (
    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/rightsizer:log-stream:"
    "rightsizer/rightsizer/0123456789abcdef0123456789abcdef"
)
REPOSITORY = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/rightsizer"


def test_the_execution_role_pulls_the_image_and_writes_logs_only() -> None:
    stack = Stack(parameters())
    policy = parse_policy(stack.role_policy("ExecutionRole"), name="execution")
    allowed_calls: list[Call] = [
        ("ecr:GetAuthorizationToken", "*", {}),
        ("ecr:BatchGetImage", REPOSITORY, {}),
        ("ecr:GetDownloadUrlForLayer", REPOSITORY, {}),
        ("ecr:BatchCheckLayerAvailability", REPOSITORY, {}),
        ("logs:CreateLogStream", LOG_STREAM, {}),
        ("logs:PutLogEvents", LOG_STREAM, {}),
    ]
    for call in allowed_calls:
        decision = decide(call, policy)
        assert decision.allowed and not decision.conditional, call
    other_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/other:log-stream:x"
    refused: list[Call] = [
        ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/other", {}),
        ("ecr:PutImage", REPOSITORY, {}),
        ("logs:PutLogEvents", other_group, {}),
        ("logs:DeleteLogGroup", LOG_STREAM, {}),
        ("s3:GetObject", trail_object(""), {}),
        ("secretsmanager:GetSecretValue", "*", {}),
        ("iam:PassRole", "*", {}),
        ("ecs:RunTask", "*", {}),
    ]
    for call in refused:
        assert not decide(call, policy).allowed, call
    expected = {(a.lower(), r) for a, r, _ in allowed_calls}
    _sweep(policy, expected, ("ecr", "logs", "s3", "iam", "secretsmanager", "ecs"), refused)
    assert "ManagedPolicyArns" not in stack.resource("ExecutionRole")["Properties"]


@pytest.mark.parametrize("cluster", ["", CLUSTER_ARN], ids=["new-cluster", "given-cluster"])
def test_the_events_role_runs_the_job_and_passes_its_two_roles_only(cluster: str) -> None:
    stack = Stack(parameters(cluster=cluster))
    policy = parse_policy(stack.role_policy("EventsRole"), name="events")
    target = stack.resource("Schedule")["Properties"]["Targets"][0]
    cluster_arn = target["Arn"]
    assert cluster_arn == (cluster or stack._get_att("Cluster", "Arn"))
    in_cluster = {"ecs:cluster": (cluster_arn,)}
    family = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/rightsizer"
    to_ecs = {"iam:PassedToService": (ECS_TASKS,)}
    task_role, execution_role = (stack._get_att(r, "Arn") for r in ("TaskRole", "ExecutionRole"))
    for call in [
        ("ecs:RunTask", stack._ref("TaskDefinition"), in_cluster),
        ("ecs:RunTask", f"{family}:7", in_cluster),
        ("iam:PassRole", task_role, to_ecs),
        ("iam:PassRole", execution_role, to_ecs),
    ]:
        decision = decide(call, policy)
        assert decision.allowed and not decision.conditional, call
    other_cluster = {"ecs:cluster": (f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod",)}
    for call in [
        ("ecs:RunTask", f"{family}:1", other_cluster),
        ("ecs:RunTask", f"{family}:1", {}),
        ("ecs:RunTask", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/other:1", in_cluster),
        ("ecs:StartTask", f"{family}:1", in_cluster),
        ("ecs:RegisterTaskDefinition", "*", {}),
        ("iam:PassRole", task_role, {"iam:PassedToService": ("ec2.amazonaws.com",)}),
        ("iam:PassRole", stack._get_att("EventsRole", "Arn"), to_ecs),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", to_ecs),
        ("iam:PassRole", "*", to_ecs),
    ]:
        assert not decide(call, policy).allowed, call
    # Without the cluster key the RunTask grant hangs on it: it never applies unconditionally.
    loose = evaluate(Request("ecs:RunTask", f"{family}:1"), [policy])
    assert loose.conditional and loose.unknown_keys == ("ecs:cluster",)
    expected = {
        ("ecs:runtask", f"{family}:1"),
        ("iam:passrole", task_role),
        ("iam:passrole", execution_role),
    }
    _sweep(policy, expected, ("ecs", "iam"), [])


def test_the_ecs_roles_trust_only_ecs_tasks_of_this_account() -> None:
    stack = Stack(parameters())
    for role in ("TaskRole", "ExecutionRole"):
        trust = stack.resource(role)["Properties"]["AssumeRolePolicyDocument"]
        verdict = service_trust(parse_policy(trust, name=role, kind="trust"))
        assert verdict.assumable and verdict.source_condition, (role, verdict)
        assert verdict.trusted_services == (ECS_TASKS,)
    for logical_id, raw in stack.template["Resources"].items():
        if raw["Type"] == "AWS::IAM::Role":
            assert "ManagedPolicyArns" not in raw["Properties"], logical_id


# --------------------------------------------------------------------------------------------
# the scheduled task itself


def test_cloudformation_schedules_one_private_fargate_task_with_efs() -> None:
    stack = Stack(parameters())
    rule = stack.resource("Schedule")["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    (target,) = rule["Targets"]
    ecs = target["EcsParameters"]
    assert target["RoleArn"] == stack._get_att("EventsRole", "Arn")
    assert ecs["TaskDefinitionArn"] == stack._ref("TaskDefinition")
    assert (ecs["LaunchType"], ecs["TaskCount"]) == ("FARGATE", 1)
    network = ecs["NetworkConfiguration"]["AwsVpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    task = stack.resource("TaskDefinition")["Properties"]
    assert (task["NetworkMode"], task["RequiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    assert (task["Cpu"], task["Memory"], task["EphemeralStorage"]) == (
        "1024",
        "4096",
        {"SizeInGiB": "40"},
    )
    (container,) = task["ContainerDefinitions"]
    mounts = {m["ContainerPath"]: m["SourceVolume"] for m in container["MountPoints"]}
    volumes = {v["Name"]: v for v in task["Volumes"]}
    efs = volumes[mounts["/data"]]["EFSVolumeConfiguration"]
    assert efs["TransitEncryption"] == "ENABLED"
    assert efs["AuthorizationConfig"]["AccessPointId"] == stack._ref("AccessPoint")
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == "/ecs/rightsizer"
    access_point = stack.resource("AccessPoint")["Properties"]
    uid = dockerfile_uid()
    assert access_point["PosixUser"] == {"Uid": str(uid), "Gid": str(uid)}
    assert int(stack.resource("LogGroup")["Properties"]["RetentionInDays"]) > 0
    assert stack.resource("FileSystem")["Properties"]["Encrypted"] is True


# --------------------------------------------------------------------------------------------
# 6. Dockerfile


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions (keyword, arguments) per stage; continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, "Dockerfile ends inside a continuation"
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions:
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before FROM"
        stages[-1].append((keyword, arguments))
    return stages


def dockerfile_uid() -> int:
    users = [args for keyword, args in dockerfile_stages()[-1] if keyword == "USER"]
    assert users, "the final stage sets no USER"
    return int(users[-1].split(":")[0])


def test_dockerfile_runs_rightsizer_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: a builder and the runtime image"
    final = stages[-1]
    assert final[0] == ("FROM", "python:3.11-slim")
    assert stages[0][0][1].startswith("python:3.11-slim AS ")
    assert dockerfile_uid() not in (0,) and dockerfile_uid() >= 1000
    assert [a for k, a in final if k == "USER"][-1] not in ("root", "0")
    entrypoint = [json.loads(a) for k, a in final if k == "ENTRYPOINT"]
    command = [json.loads(a) for k, a in final if k == "CMD"]
    assert entrypoint[-1] == ["rightsizer"]
    assert command[-1][:2] == ["run", "--config"]
    copies = [a.split() for k, a in final if k == "COPY"]
    assert ["deploy/rightsizer.toml", command[-1][2]] in copies
    assert ("WORKDIR", "/data") in final
    environment = " ".join(a for k, a in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in environment and "PYTHONUNBUFFERED=1" in environment
    runs = " ".join(a for k, a in final if k == "RUN")
    assert "--no-index" in runs  # the builder's wheels only
    every = " ".join(a for stage in stages for _, a in stage)
    assert "[dev]" not in every and not re.search(r"\b(gcc|build-essential|apt-get)\b", every)


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".venv", "tests", "bench/_data", ".git", "out", "*.duckdb"):
        assert required in patterns, required
    assert any("ipynb_checkpoints" in p for p in patterns)
    for path in (
        "pyproject.toml",
        "README.md",
        "rightsizer/cli.py",
        "queries/athena/usage.sql",
        "deploy/rightsizer.toml",
    ):
        excluded = [p for p in patterns if fnmatchcase(path, p) or path.startswith(p + "/")]
        assert excluded == [], (path, excluded)
