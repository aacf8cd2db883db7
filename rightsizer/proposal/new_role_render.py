"""The four ways people apply IAM, for a role ``new_role`` designed: the AWS CLI, CloudFormation,
Terraform and the console. Each function returns text (no I/O); equal roles give equal bytes.

What each relies on:
- ``policy.json`` / ``trust.json``: IAM's grammar (Version, Statement), ASCII only. Several
  documents (past IAM's 6,144-character limit for a managed policy) are a JSON list, as in
  ``rightsizer run``'s ``policy.json``.
- ``commands.sh``: ``aws iam create-role`` (``--path``, ``--description``,
  ``--assume-role-policy-document``, ``--tags``), ``create-policy`` (``--tags``, ``--query
  Policy.Arn --output text``) and ``attach-role-policy``
  (https://docs.aws.amazon.com/cli/latest/reference/iam/create-role.html and its siblings). The
  documents are passed inline, quoted with ``shlex.quote``, so the script runs from any folder.
  A change on another account's resource (a repository policy) is printed as a comment, never
  run: it needs that account's credentials, and ``set-repository-policy`` replaces the whole
  policy.
- ``role.cfn.yaml``: ``AWS::IAM::Role`` (RoleName, Path, Description, AssumeRolePolicyDocument,
  Tags; ``Ref`` is its name) and ``AWS::IAM::ManagedPolicy`` (ManagedPolicyName, Description,
  PolicyDocument, Roles)
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html,
  .../aws-resource-iam-managedpolicy.html). ``AWS::IAM::ManagedPolicy`` has no Tags property:
  the role is tagged, the policy cannot be from a template. Named IAM resources need
  ``CAPABILITY_NAMED_IAM``.
- ``role.tf``: ``aws_iam_role`` (name, path, description, assume_role_policy, tags),
  ``aws_iam_policy`` (name, description, policy, tags) and ``aws_iam_role_policy_attachment``
  (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/iam_role).
- ``console.md``: the IAM console's create-policy and create-role (custom trust policy) steps
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_create-console.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-custom.html). The console
  cannot give a role a path ("If you use the IAM API or AWS CLI to create IAM resources, you can
  add an optional path", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html):
  a role with a path says to use another form.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from rightsizer.proposal.iac import (
    Call,
    GetAtt,
    Raw,
    Ref,
    dump_template,
    hcl_block,
    hcl_name,
    logical_id,
    one_line,
    unique_names,
)
from rightsizer.proposal.model import POLICY_VERSION
from rightsizer.proposal.new_role import NewRole
from rightsizer.text import escape_controls

__all__ = ["render_commands", "render_console", "render_new_role_cloudformation",
           "render_new_role_policy", "render_new_role_terraform", "render_trust"]

_ROLE_ID = "Role"
_TERRAFORM_AWS_PROVIDER = ">= 4.0"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=True) + "\n"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def render_trust(role: NewRole) -> str:
    return _json(role.trust)


def render_new_role_policy(role: NewRole) -> str:
    """One document as itself, several as a list, none as a document without statements."""
    documents = [d.as_json() for d in role.documents]
    if not documents:
        return _json({"Version": POLICY_VERSION, "Statement": []})
    return _json(documents[0] if len(documents) == 1 else documents)


def _what(role: NewRole) -> str:
    return f"the ECS {role.kind} role {role.role_name} of task family {role.family}"


def _policy_description(role: NewRole, index: int) -> str:
    part = f" (part {index + 1} of {len(role.documents)})" if len(role.documents) > 1 else ""
    return one_line(f"Declared needs of task family {role.family}, {role.kind} role{part}: "
                    "made by rightsizer new-role")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _open_items(role: NewRole) -> list[str]:
    lines = [f"Undecided, not granted: {u.what}." for u in role.undecided]
    lines += [f"Needed on the resource's side: {c.what}." for c in role.resource_changes]
    lines += [f"Note: {note}." for note in role.notes]
    return lines


# --- CloudFormation -----------------------------------------------------------------------------


def render_new_role_cloudformation(role: NewRole) -> str:
    ids = unique_names((logical_id(d.name) for d in role.documents), reserved={_ROLE_ID},
                       limit=255)
    resources: dict[str, Any] = {}
    for index, (document, resource_id) in enumerate(zip(role.documents, ids, strict=True)):
        resources[resource_id] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": document.name,
                "Description": _policy_description(role, index),
                "PolicyDocument": document.as_json(),
                "Roles": [Ref(_ROLE_ID)],  # Ref of a role is its name
            },
        }
    properties: dict[str, Any] = {
        "RoleName": role.role_name,
        "Path": role.path,
        "Description": one_line(role.description),
        "AssumeRolePolicyDocument": role.trust,
    }
    if role.tags:
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in role.tags]
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": one_line(f"rightsizer new-role: {_what(role)}"),
        "Resources": {_ROLE_ID: {"Type": "AWS::IAM::Role", "Properties": properties},
                      **resources},
        "Outputs": {
            "RoleArn": {"Description": f"ARN of {role.role_name}",
                        "Value": GetAtt(f"{_ROLE_ID}.Arn")},
            "RoleName": {"Description": "The role's name", "Value": Ref(_ROLE_ID)},
        },
    }
    header = [f"Generated by rightsizer new-role: {_what(role)}.",
              "Named IAM resources: deploy with --capabilities CAPABILITY_NAMED_IAM.",
              "AWS::IAM::ManagedPolicy takes no Tags: the role is tagged, the policy is not.",
              *_open_items(role)]
    return dump_template(template, header)


# --- Terraform ------------------------------------------------------------------------------


def render_new_role_terraform(role: NewRole) -> str:
    name = hcl_name(role.role_name)
    header = [f"Generated by rightsizer new-role: {_what(role)}.", *_open_items(role)]
    blocks = ["".join(f"# {one_line(line)}\n" for line in header).rstrip("\n")]
    blocks.append(hcl_block("terraform", [], [(
        "required_providers", hcl_block("required_providers", [], [
            ("aws", {"source": "hashicorp/aws", "version": _TERRAFORM_AWS_PROVIDER})]))]))
    tags = [("tags", dict(role.tags))] if role.tags else []
    blocks.append(hcl_block("resource", ["aws_iam_role", name], [
        ("name", role.role_name),
        ("path", role.path),
        ("description", one_line(role.description)),
        ("assume_role_policy", Call("jsonencode", role.trust)),
        *tags,
    ]))
    names = unique_names((hcl_name(d.name) for d in role.documents), reserved={name})
    for index, (document, policy) in enumerate(zip(role.documents, names, strict=True)):
        blocks.append(hcl_block("resource", ["aws_iam_policy", policy], [
            ("name", document.name),
            ("description", _policy_description(role, index)),
            ("policy", Call("jsonencode", document.as_json())),
            *tags,
        ]))
        blocks.append(hcl_block("resource", ["aws_iam_role_policy_attachment", policy], [
            ("role", Raw(f"aws_iam_role.{name}.name")),
            ("policy_arn", Raw(f"aws_iam_policy.{policy}.arn")),
        ]))
    blocks.append(hcl_block("output", ["role_arn"], [
        ("description", f"ARN of {role.role_name}"),
        ("value", Raw(f"aws_iam_role.{name}.arn")),
    ]))
    return "\n\n".join(blocks) + "\n"


# --- AWS CLI --------------------------------------------------------------------------------


def render_commands(role: NewRole) -> str:
    q = shlex.quote
    tags = ([f"  --tags {q(_compact([{'Key': k, 'Value': v} for k, v in role.tags]))}"]
            if role.tags else [])
    lines = [
        "#!/usr/bin/env bash",
        f"# Generated by rightsizer new-role: {one_line(_what(role))}.",
        "# Run with credentials that may create IAM roles and policies: bash commands.sh",
        *(f"# {one_line(line)}" for line in _open_items(role)),
        "set -euo pipefail",
        "",
        "aws iam create-role \\",
        f"  --role-name {q(role.role_name)} \\",
        f"  --path {q(role.path)} \\",
        f"  --description {q(one_line(role.description))} \\",
        *(f"{line} \\" for line in tags),
        f"  --assume-role-policy-document {q(_compact(role.trust))}",
    ]
    for index, document in enumerate(role.documents):
        variable = f"policy_arn_{index + 1}"
        lines += [
            "",
            f"{variable}=$(aws iam create-policy \\",
            f"  --policy-name {q(document.name)} \\",
            f"  --description {q(_policy_description(role, index))} \\",
            *(f"{line} \\" for line in tags),
            f"  --policy-document {q(_compact(document.as_json()))} \\",
            "  --query Policy.Arn --output text)",
            f'aws iam attach-role-policy --role-name {q(role.role_name)} '
            f'--policy-arn "${variable}"',
        ]
    for change in role.resource_changes:
        policy = {"Version": POLICY_VERSION, "Statement": [dict(change.statement)]}
        repository = change.resource.split(":repository/", 1)[-1]
        region = change.resource.split(":")[3]
        lines += [
            "",
            f"# In account {change.account}, merge this statement into the repository policy "
            f"of {repository}",
            "# (set-repository-policy replaces the whole policy: read it first with",
            f"# aws ecr get-repository-policy --repository-name {q(repository)} "
            f"--region {region}):",
            f"# {_compact(policy)}",
        ]
    return escape_controls("\n".join(lines) + "\n", keep="\n")


# --- console ----------------------------------------------------------------------------------


def render_console(role: NewRole) -> str:
    def code(text: str) -> str:
        return f"`{one_line(text).replace('`', chr(39))}`"

    lines = [f"# {one_line(role.role_name)}: in the IAM console", "",
             f"{_sentence(one_line(_what(role)))}, from "
             f"{', '.join(code(t) for t in role.task_definitions)}.", ""]
    if role.path != "/":
        lines += [f"> The console cannot give a role a path, and this role's path is "
                  f"{code(role.path)} (the task definition names it so). Use `commands.sh`, "
                  "`role.cfn.yaml` or `role.tf` for this role, or create it here without the "
                  "path and change the task definition's role ARN to match.", ""]
    step = 0

    def add(text: str) -> None:
        nonlocal step
        step += 1
        lines.append(f"{step}. {text}")

    tag_text = (", ".join(f"{code(k)} = {code(v)}" for k, v in role.tags)
                if role.tags else "none given")
    add("Open the IAM console: <https://console.aws.amazon.com/iam/>.")
    for index, document in enumerate(role.documents):
        part = f" (part {index + 1} of {len(role.documents)})" if len(role.documents) > 1 else ""
        add(f"**Policies** > **Create policy**{part}. Choose **JSON**, replace the editor's "
            "text with " + ("`policy.json`" if len(role.documents) == 1 else
                            f"element {index + 1} of the list in `policy.json`")
            + ", and choose **Next**.")
        add(f"Policy name: {code(document.name)}. Description: "
            f"{code(_policy_description(role, index))}. Tags: {tag_text}. Choose "
            "**Create policy**.")
    add("**Roles** > **Create role**. Trusted entity type: **Custom trust policy**. Replace the "
        "editor's text with `trust.json` and choose **Next**.")
    if role.documents:
        names = ", ".join(code(d.name) for d in role.documents)
        add(f"Add permissions: search for {names}, select it, and choose **Next**.")
    else:
        add("Add permissions: select nothing (the task definition declares nothing this role "
            "needs yet) and choose **Next**.")
    add(f"Role name: {code(role.role_name)}. Description: {code(role.description)}. "
        f"Tags: {tag_text}. Choose **Create role**.")
    for change in role.resource_changes:
        add(f"In account {code(change.account)}: {one_line(change.what)}. Add this statement "
            "to the repository's policy (**Amazon ECR** > **Repositories** > the repository > "
            "**Permissions** > **Edit policy JSON**): "
            f"{code(_compact(dict(change.statement)))}.")
    if role.undecided:
        lines += ["", "## Not decided, not granted", ""]
        lines += [f"- {one_line(u.what)}: {one_line(u.reason)} ({code(u.field)})"
                  for u in role.undecided]
    if role.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {one_line(note)}" for note in role.notes]
    return escape_controls("\n".join(lines) + "\n", keep="\n")
