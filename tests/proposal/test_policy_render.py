"""The four renderings of a proposal: policy.json, CloudFormation, Terraform, diff.md.

Each is checked by what reads it: json and rightsizer's own parser and evaluator (IAM
semantics), cfn-lint (CloudFormation), python-hcl2 and, when it is installed, Terraform itself
(``terraform fmt`` and ``terraform console``, both offline), and the Markdown rules a reviewer's
viewer applies."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import hcl2
import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import cfn_yaml
from helpers import run_terraform

from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import Condition, parse_policy
from rightsizer.proposal.model import (
    ActionChange,
    PolicyDocument,
    ProposedStatement,
    RoleProposal,
)
from rightsizer.proposal.render import (
    render_cloudformation,
    render_diff,
    render_policy_json,
    render_terraform,
)
from rightsizer.proposal.split import split_statements

ACCOUNT = "123456789012"
ROLE = "orders-api-task"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ecs/{ROLE}"


def proposal(
    documents: tuple[PolicyDocument, ...],
    *,
    kept: tuple[ActionChange, ...] = (),
    removed: tuple[ActionChange, ...] = (),
    inline: tuple[str, ...] = ("orders-inline",),
    managed: tuple[str, ...] = ("arn:aws:iam::aws:policy/AmazonS3FullAccess",),
    role_arn: str = ROLE_ARN,
) -> RoleProposal:
    return RoleProposal(
        role_name=ROLE,
        role_arn=role_arn,
        documents=documents,
        kept=kept,
        removed=removed,
        current_inline=inline,
        current_managed=managed,
        account=ACCOUNT,
    )


S3_READ = ProposedStatement(
    sid="S3Read",
    actions=("s3:GetObject", "s3:ListBucket"),
    resources=("arn:aws:s3:::orders", "arn:aws:s3:::orders/*"),
)
QUEUE = ProposedStatement(
    sid="Queue",
    actions=("sqs:ReceiveMessage",),
    resources=(f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders",),
)
KMS_VIA = ProposedStatement(
    sid="KmsViaSecrets",
    actions=("kms:Decrypt",),
    resources=("*",),
    conditions=(
        Condition("StringEquals", "kms:ViaService", ("secretsmanager.us-east-1.amazonaws.com",)),
        Condition("ForAnyValue:StringLike", "aws:TagKeys", ("team", "env*")),
    ),
)
# Strings that each output format has to escape: an IAM policy variable (a template sequence in
# HCL), quotes, a backslash, "%{", Latin-1 text (allowed in policies) and a colon-keyed condition.
AWKWARD = ProposedStatement(
    sid="Awkward",
    actions=("s3:PutObject",),
    resources=(
        "arn:aws:s3:::home/${aws:username}/*",
        'arn:aws:s3:::odd/"quoted"\\back%{x}/caf\u00e9',
    ),
    conditions=(Condition("StringLike", "s3:prefix", ("${aws:userid}/*", "a: b # c & <d>")),),
)

ONE = proposal(
    (PolicyDocument("rightsizer-orders-api-task", (S3_READ, QUEUE, KMS_VIA, AWKWARD)),),
    kept=(
        ActionChange("s3:GetObject", "used", "called 42 times"),
        ActionChange("sqs:ReceiveMessage", "used", "called 7 times"),
    ),
    removed=(ActionChange("s3:DeleteObject", "unused", "never called in 90 days"),),
)
BIG = (
    ProposedStatement(
        sid=f"Data{i}",
        actions=("s3:GetObject", "s3:PutObject"),
        resources=tuple(f"arn:aws:s3:::team{i}-bucket-{j:03d}/*" for j in range(40)),
    )
    for i in range(6)
)
SPLIT = proposal(split_statements(list(BIG), base_name="rightsizer-orders-api-task"))
EMPTY = proposal(())
EMPTY_DOCUMENT = proposal((PolicyDocument("rightsizer-orders-api-task", ()),))

PROPOSALS = {"one": ONE, "split": SPLIT, "empty": EMPTY, "empty-document": EMPTY_DOCUMENT}
RENDERERS = {
    "json": render_policy_json,
    "cloudformation": render_cloudformation,
    "terraform": render_terraform,
    "diff": render_diff,
}


def documents_of(rendered: str) -> list[dict[str, Any]]:
    value = json.loads(rendered)
    return value if isinstance(value, list) else [value]


def test_the_split_fixture_has_several_documents() -> None:
    assert len(SPLIT.documents) > 1
    assert [d.name for d in SPLIT.documents][:2] == [
        "rightsizer-orders-api-task-1",
        "rightsizer-orders-api-task-2",
    ]


# --------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("kind", sorted(PROPOSALS))
@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_equal_proposals_render_identical_bytes(kind: str, renderer: str) -> None:
    render = RENDERERS[renderer]
    original = PROPOSALS[kind]
    copy = RoleProposal(**{field: getattr(original, field) for field in original.__slots__})
    first = render(original)
    assert first.encode() == render(original).encode() == render(copy).encode()
    assert first.endswith("\n") and not first.endswith("\n\n")


# --------------------------------------------------------------------------------------------
# policy.json


@pytest.mark.parametrize("kind", ["one", "split"])
def test_policy_json_is_what_iam_reads(kind: str) -> None:
    subject = PROPOSALS[kind]
    rendered = render_policy_json(subject)
    assert rendered.isascii()
    assert rendered.startswith("{\n  " if kind == "one" else "[\n  {\n    ")
    documents = documents_of(rendered)
    assert documents == [d.as_json() for d in subject.documents]
    for document in documents:
        assert list(document) == ["Version", "Statement"]
        for statement in document["Statement"]:
            expected = ["Sid", "Effect", "Action", "Resource"]
            assert list(statement) == [*expected, "Condition"][: len(statement)]
        parsed = parse_policy(json.dumps(document), name="p", kind="managed")
        assert parsed.version == "2012-10-17"


@pytest.mark.parametrize("kind", ["one", "split"])
def test_policy_json_allows_exactly_the_statements(kind: str) -> None:
    subject = PROPOSALS[kind]
    policies = [
        parse_policy(document, name=f"p{i}", kind="managed")
        for i, document in enumerate(documents_of(render_policy_json(subject)))
    ]
    plain = [s for s in subject.statements if not s.conditions]  # conditions: tested below
    assert plain
    actions = {a for s in plain for a in s.actions} | {"s3:DeleteObject", "iam:PassRole"}
    resources = {r for s in plain for r in s.resources} | {"arn:aws:s3:::other/x"}
    for action in sorted(actions):
        for resource in sorted(resources):
            expected = any(
                action in s.actions and any(fnmatchcase(resource, p) for p in s.resources)
                for s in plain
            )
            decision = evaluate(Request(action, resource), policies)
            assert decision.allowed is expected, (action, resource)
            assert not decision.conditional, (action, resource)


def test_policy_json_keeps_conditions_attached() -> None:
    policies = [parse_policy(render_policy_json(ONE), name="p", kind="managed")]
    via_secrets = Request(
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:123456789012:key/k",
        context={
            "kms:ViaService": ("secretsmanager.us-east-1.amazonaws.com",),
            "aws:TagKeys": ("team",),
        },
        context_complete=True,
    )
    direct = Request(
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:123456789012:key/k",
        context={"aws:TagKeys": ("team",)},
        context_complete=True,
    )
    assert evaluate(via_secrets, policies).allowed
    assert not evaluate(direct, policies).allowed
    home = Request(
        "s3:PutObject",
        "arn:aws:s3:::home/alice/notes.txt",
        context={"aws:username": ("alice",), "s3:prefix": ("AIDA/x",), "aws:userid": ("AIDA",)},
        context_complete=True,
    )
    assert evaluate(home, policies).allowed


@pytest.mark.parametrize("kind", ["empty", "empty-document"])
def test_empty_policy_json_is_a_document_with_no_statement(kind: str) -> None:
    rendered = render_policy_json(PROPOSALS[kind])
    assert json.loads(rendered) == {"Version": "2012-10-17", "Statement": []}
    assert parse_policy(rendered, name="p", kind="managed").statements == ()


# --------------------------------------------------------------------------------------------
# CloudFormation


@pytest.mark.parametrize("kind", sorted(PROPOSALS))
def test_cloudformation_passes_cfn_lint(kind: str) -> None:
    template = render_cloudformation(PROPOSALS[kind])
    matches = lint(template, config=ManualArgs(regions=["us-east-1"]))
    assert [str(match) for match in matches] == []


def test_cloudformation_passes_the_cfn_lint_command(tmp_path: Path) -> None:
    # The dev extra installs cfn-lint beside this interpreter (the venv's bin/, even when the
    # venv is not activated and so not on PATH).
    command = Path(sys.executable).with_name("cfn-lint")
    assert command.is_file(), f"{command}: install the dev extra (pip install -e '.[dev]')"
    path = tmp_path / "policy.cfn.yaml"
    path.write_text(render_cloudformation(SPLIT), encoding="utf-8")
    result = subprocess.run(
        [str(command), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("kind", ["one", "split"])
def test_cloudformation_declares_one_managed_policy_per_document(kind: str) -> None:
    subject = PROPOSALS[kind]
    template = cfn_yaml.loads(render_cloudformation(subject))
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Parameters"]["RoleName"]["Default"] == ROLE
    policies = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }
    assert len(policies) == len(template["Resources"]) == len(subject.documents)
    by_name = {p["ManagedPolicyName"]: (lid, p) for lid, p in policies.items()}
    for document in subject.documents:
        logical_id, properties = by_name[document.name]
        assert re.fullmatch(r"[A-Za-z0-9]+", logical_id)
        assert logical_id.startswith("RightsizerOrdersApiTask")
        assert json.loads(json.dumps(properties["PolicyDocument"])) == document.as_json()
        assert properties["Roles"] == [{"Ref": "RoleName"}]
        assert ROLE in properties["Description"]
        assert template["Outputs"][f"{logical_id}Arn"]["Value"] == {"Ref": logical_id}


def test_cloudformation_for_an_empty_proposal_creates_nothing() -> None:
    text = render_cloudformation(EMPTY)
    template = cfn_yaml.loads(text)
    assert {k: v["Type"] for k, v in template["Resources"].items()} == {
        "NoPermissionsNeeded": "AWS::CloudFormation::WaitConditionHandle"
    }
    assert "needs no permissions" in text
    # The parameter stays, so a stack update passing RoleName keeps working.
    assert template["Parameters"]["RoleName"]["Default"] == ROLE


# --------------------------------------------------------------------------------------------
# Terraform


def _hcl_unquote(text: str) -> str:
    """A python-hcl2 string (quotes and HCL escapes kept) as the string Terraform sees."""
    assert text.startswith('"') and text.endswith('"'), text
    out: list[str] = []
    body, i = text[1:-1], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        char = body[i]
        if char == "\\":
            following = body[i + 1]
            if following in simple:
                out.append(simple[following])
                i += 2
            elif following == "u":
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                out.append(chr(int(body[i + 2 : i + 10], 16)))
                i += 10
        elif body.startswith(("$${", "%%{"), i):
            out.append(body[i] + "{")
            i += 3
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _hcl_decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            (_hcl_unquote(k) if k.startswith('"') else k): _hcl_decode(v)
            for k, v in value.items()
            if k != "__is_block__"
        }
    if isinstance(value, list):
        return [_hcl_decode(v) for v in value]
    return _hcl_unquote(value)


def _terraform(subject: RoleProposal) -> dict[str, Any]:
    parsed = hcl2.loads(render_terraform(subject))
    out: dict[str, Any] = {"aws_iam_policy": {}, "aws_iam_role_policy_attachment": {}}
    for block in parsed.get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                out[kind.strip('"')][name.strip('"')] = body
    out["variable"] = parsed["variable"]
    out["terraform"] = parsed["terraform"]
    return out


def _policy_expression(body: dict[str, Any]) -> Any:
    expression = body["policy"]
    prefix, suffix = "${jsonencode(", ")}"
    assert expression.startswith(prefix) and expression.endswith(suffix), expression
    inner = hcl2.loads("p = " + expression[len(prefix) : -len(suffix)])
    return _hcl_decode(inner["p"])


@pytest.mark.parametrize("kind", ["one", "split"])
def test_terraform_declares_and_attaches_each_document(kind: str) -> None:
    subject = PROPOSALS[kind]
    parsed = _terraform(subject)
    policies = parsed["aws_iam_policy"]
    attachments = parsed["aws_iam_role_policy_attachment"]
    assert len(policies) == len(attachments) == len(subject.documents)
    by_name = {_hcl_unquote(body["name"]): (rid, body) for rid, body in policies.items()}
    for document in subject.documents:
        resource_name, body = by_name[document.name]
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", resource_name)
        assert _policy_expression(body) == document.as_json()
        assert ROLE in _hcl_unquote(body["description"])
        attachment = attachments[resource_name]
        assert attachment["role"] == "${var.role_name}"
        assert attachment["policy_arn"] == f"${{aws_iam_policy.{resource_name}.arn}}"
    variable = parsed["variable"][0]['"role_name"']
    assert _hcl_unquote(variable["default"]) == ROLE
    providers = parsed["terraform"][0]["required_providers"][0]
    assert _hcl_unquote(providers["aws"]["source"]) == "hashicorp/aws"


def test_terraform_escapes_policy_variables() -> None:
    text = render_terraform(ONE)
    assert '"arn:aws:s3:::home/$${aws:username}/*"' in text
    assert "%%{x}" in text and "\\u00e9" in text
    assert re.search(r"(?<!\$)\$\{aws:", text) is None  # no live interpolation left


def test_terraform_for_an_empty_proposal_declares_no_policy() -> None:
    for subject in (EMPTY, EMPTY_DOCUMENT):
        text = render_terraform(subject)
        parsed = hcl2.loads(text)
        assert "resource" not in parsed
        assert _hcl_unquote(parsed["variable"][0]['"role_name"']["default"]) == ROLE
        assert "needs no permissions" in text


needs_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform not installed"
)


@needs_terraform
@pytest.mark.parametrize("kind", sorted(PROPOSALS))
def test_terraform_fmt_accepts_it_unchanged(kind: str, tmp_path: Path) -> None:
    (tmp_path / "policy.tf").write_text(render_terraform(PROPOSALS[kind]), encoding="utf-8")
    result = run_terraform(["fmt", "-check", "-diff", "policy.tf"], tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


@needs_terraform
def test_terraform_evaluates_jsonencode_to_the_document(tmp_path: Path) -> None:
    # Terraform itself evaluates each rendered jsonencode(...) (no provider needed for locals):
    # the JSON it would send to IAM must be the document.
    text = render_terraform(ONE)
    expressions = re.findall(r"^  policy = (jsonencode\(\{\n.*?\n  \}\))$", text, re.S | re.M)
    assert len(expressions) == len(ONE.documents)
    (tmp_path / "main.tf").write_text(f"locals {{\n  p = {expressions[0]}\n}}\n")
    result = run_terraform(["console"], tmp_path, stdin="base64encode(local.p)\n")
    assert result.returncode == 0, result.stderr
    encoded = result.stdout.strip().strip('"')
    assert json.loads(base64.b64decode(encoded)) == ONE.documents[0].as_json()


# --------------------------------------------------------------------------------------------
# diff.md


def _fenced_blocks(markdown: str) -> list[str]:
    return re.findall(r"^(`{3,})\w*\n(.*?)\n\1$", markdown, re.S | re.M)


def test_diff_has_the_sections_and_counts() -> None:
    text = render_diff(ONE)
    assert text.startswith("# Proposed least-privilege policy for role orders-api-task\n")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["Removed", "Kept", "Generalized", "Proposed policy", "Apply it"]
    assert "Nothing: every resource is named as it was seen." in text
    assert "**3** granted actions: **2** kept, **1** removed" in text
    assert "| s3:DeleteObject | never called in 90 days |" in text
    assert "| s3:GetObject | used | called 42 times |" in text
    blocks = [body for _, body in _fenced_blocks(text)]
    assert json.loads(blocks[0]) == ONE.documents[0].as_json()


def test_diff_uses_the_given_summary_line() -> None:
    text = render_diff(ONE, summary_line="Window 2024-01-01 to 2024-03-31.")
    assert "\nWindow 2024-01-01 to 2024-03-31.\n" in text
    assert "granted actions" not in text


def test_diff_gives_the_cli_commands_in_a_safe_order() -> None:
    text = render_diff(ONE)
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/rightsizer-orders-api-task"
    old_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    steps = [
        "aws iam create-policy --policy-name rightsizer-orders-api-task "
        "--policy-document file://policy.json",
        f"aws iam attach-role-policy --role-name {ROLE} --policy-arn {policy_arn}",
        f"aws iam get-role-policy --role-name {ROLE} --policy-name orders-inline "
        "--query PolicyDocument --output json > orders-inline.backup.json",
        f"aws iam delete-role-policy --role-name {ROLE} --policy-name orders-inline",
        f"aws iam detach-role-policy --role-name {ROLE} --policy-arn {old_arn}",
        "AccessDenied",
        f"aws iam put-role-policy --role-name {ROLE} --policy-name orders-inline "
        "--policy-document file://orders-inline.backup.json",
        f"aws iam attach-role-policy --role-name {ROLE} --policy-arn {old_arn}",
    ]
    positions = [text.index(step) for step in steps]
    # Attach before anything is removed; save before deleting; roll back is at hand.
    assert positions == sorted(positions)


def test_diff_for_a_split_policy_writes_one_file_per_document() -> None:
    text = render_diff(SPLIT)
    for index, document in enumerate(SPLIT.documents):
        name = document.name
        arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
        assert f"jq '.[{index}]' policy.json > {name}.json" in text
        assert f"--policy-name {name} --policy-document file://{name}.json" in text
        assert f"aws iam attach-role-policy --role-name {ROLE} --policy-arn {arn}\n" in text
    assert f"split in {len(SPLIT.documents)}" in text


def test_diff_updates_a_policy_an_earlier_run_attached() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/rightsizer-orders-api-task"
    text = render_diff(proposal(ONE.documents, managed=(arn,)))
    assert (
        f"aws iam create-policy-version --policy-arn {arn} "
        "--policy-document file://policy.json --set-as-default"
    ) in text
    assert "aws iam create-policy " not in text
    assert "detach-role-policy" not in text  # never detach the policy being updated


def test_diff_uses_the_role_partition() -> None:
    text = render_diff(proposal(ONE.documents, role_arn=f"arn:aws-cn:iam::{ACCOUNT}:role/x"))
    assert f"--policy-arn arn:aws-cn:iam::{ACCOUNT}:policy/rightsizer-orders-api-task" in text


@pytest.mark.parametrize(
    ("reason", "cell"),
    [
        ("a | b", "a \\| b"),
        ("run `rm -rf`", "run \\`rm -rf\\`"),
        ("line one\nline two\r\nthree", "line one<br>line two<br>three"),
        ("<script>x</script>", "\\<script\\>x\\</script\\>"),
        (
            "*bold* _it_ [link](x) ~s~ &amp; \\",
            "\\*bold\\* \\_it\\_ \\[link\\](x) \\~s\\~ \\&amp; \\\\",
        ),
    ],
)
def test_diff_escapes_table_cells(reason: str, cell: str) -> None:
    subject = proposal(
        ONE.documents,
        removed=(ActionChange("s3:DeleteObject", "unused", reason),),
        kept=(ActionChange("s3:GetObject", "not_observable", reason),),
    )
    text = render_diff(subject)
    assert f"| s3:DeleteObject | {cell} |\n" in text
    assert f"| s3:GetObject | not\\_observable | {cell} |\n" in text
    for line in text.splitlines():
        if line.startswith("| s3:"):
            # GFM splits cells on unescaped pipes only: the row keeps its column count.
            assert len(re.findall(r"(?<!\\)\|", line)) in (3, 4)


def test_diff_quotes_odd_policy_names_for_the_shell() -> None:
    subject = proposal(ONE.documents, inline=("it's $(odd)",), managed=())
    text = render_diff(subject)
    assert "--policy-name 'it'\"'\"'s $(odd)'" in text


def test_diff_fence_survives_backticks_in_the_policy() -> None:
    statement = ProposedStatement(
        sid="Ticks", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/```/*",)
    )
    text = render_diff(proposal((PolicyDocument("p", (statement,)),)))
    fence, body = _fenced_blocks(text)[0]
    assert len(fence) == 4
    assert json.loads(body)["Statement"][0]["Resource"] == "arn:aws:s3:::b/```/*"


@pytest.mark.parametrize("kind", ["empty", "empty-document"])
def test_diff_for_an_empty_proposal_removes_everything(kind: str) -> None:
    text = render_diff(PROPOSALS[kind])
    assert "needs no permissions" in text
    assert "MalformedPolicyDocument" in text
    assert "create-policy" not in text and "policy.json >" not in text
    assert f"aws iam delete-role-policy --role-name {ROLE} --policy-name orders-inline" in text
    assert "detach-role-policy" in text
    # The only attach is the roll-back of the managed policy it detaches.
    attaches = re.findall(r"^aws iam attach-role-policy .*$", text, re.M)
    assert attaches == [
        f"aws iam attach-role-policy --role-name {ROLE} "
        "--policy-arn arn:aws:iam::aws:policy/AmazonS3FullAccess"
    ]
    assert text.index("AccessDenied") < text.index(attaches[0])
    assert "in 0 managed policies" in text


def test_diff_when_there_is_nothing_to_remove() -> None:
    text = render_diff(proposal(ONE.documents, inline=(), managed=()))
    assert "no other policies to remove" in text
    assert "delete-role-policy" not in text and "detach-role-policy" not in text
