"""Text renderings of a RoleProposal: policy.json, policy.cfn.yaml, policy.tf and diff.md.

Why: the output folder holds, per role, the proposed policy as JSON, CloudFormation and
Terraform to put in a pull request, and a ``diff.md`` a reviewer can read and act on. Each function
returns text (no I/O here); equal proposals give byte-identical text, so a scheduled run changes
a file only when the proposal changed.

What each rendering relies on:
- policy.json: IAM's grammar and element order (Version, Statement; Sid, Effect, Action,
  Resource, Condition), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html.
  ASCII-only (``ensure_ascii``) so the bytes do not depend on how a file is later read.
- CloudFormation: ``AWS::IAM::ManagedPolicy`` (ManagedPolicyName, Description, PolicyDocument as
  JSON or a YAML mapping, Roles as role names; ``Ref`` returns the policy ARN),
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-managedpolicy.html.
  Logical IDs are alphanumeric and unique in the template, and ``Resources`` must declare at least
  one resource, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html
  and .../template-guide.html. Named IAM resources need ``CAPABILITY_NAMED_IAM`` on deploy.
  Emitted with PyYAML (ordered keys, no aliases, ``!Ref`` as a local tag); checked by cfn-lint in
  the tests.
- Terraform: ``aws_iam_policy`` (name, description, policy) with ``policy = jsonencode({...})``
  in HCL object syntax, as the provider's documentation recommends, and
  ``aws_iam_role_policy_attachment`` (role, policy_arn),
  https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/iam_policy. HCL
  strings treat ``${`` and ``%{`` as template sequences, so IAM policy variables such as
  ``${aws:username}`` are written ``$${aws:username}`` (HCL native syntax spec, "Template
  Literals"). Resource names are HCL identifiers (letters, digits, ``_``, ``-``; not starting with
  a digit). The tests parse the file with python-hcl2.
- diff.md: the AWS CLI's ``iam create-policy``, ``attach-role-policy``, ``get-role-policy``,
  ``delete-role-policy``, ``detach-role-policy``, ``put-role-policy`` and
  ``create-policy-version`` (when an earlier run's policy of the same name is attached). The order
  is attach, save, remove, watch, roll back if needed: the new policy is attached before anything
  is removed, and AccessDenied can only show once the old grants are gone. Table cells escape
  Markdown (GFM: ``\\|`` inside tables; any ASCII punctuation may be backslash-escaped in
  CommonMark), since action names and reasons come from CloudTrail and IAM and can hold anything;
  shell arguments are quoted (``shlex.quote``): inline policy names may hold ``$`` or quotes.

An empty proposal (the role needs no permission at all) cannot be a managed policy: IAM refuses
``"Statement": []`` (MalformedPolicyDocument). Then policy.json still holds that empty document (a
machine-readable "nothing"), diff.md says to remove the role's policies and create none, the
template declares only an ``AWS::CloudFormation::WaitConditionHandle`` (a resource that creates
nothing, because CloudFormation needs one), and the Terraform file declares no policy.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

from rightsizer.iam.catalog import AccessLevel, catalog
from rightsizer.proposal.iac import (
    Call,
    Raw,
    Ref,
    dump_template,
    hcl_block,
    hcl_name,
    logical_id,
    one_line,
    unique_names,
)
from rightsizer.proposal.model import POLICY_VERSION, PolicyDocument, RoleProposal
from rightsizer.proposal.split import MANAGED_POLICY_LIMIT
from rightsizer.text import escape_controls, plural

__all__ = ["render_cloudformation", "render_diff", "render_policy_json", "render_terraform"]

_EMPTY_DOCUMENT: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": []}
_ROLE_PARAMETER = "RoleName"
_PLACEHOLDER = "NoPermissionsNeeded"
_TERRAFORM_AWS_PROVIDER = ">= 4.0"


# --------------------------------------------------------------------------------------------
# policy.json


def render_policy_json(proposal: RoleProposal) -> str:
    """One document as itself, several as a JSON list of documents; none as an empty document."""
    documents = [document.as_json() for document in _documents(proposal)]
    value: Any = _EMPTY_DOCUMENT if not documents else documents[0]
    if len(documents) > 1:
        value = documents
    return json.dumps(value, indent=2, ensure_ascii=True) + "\n"


# --------------------------------------------------------------------------------------------
# CloudFormation


def render_cloudformation(proposal: RoleProposal) -> str:
    """A YAML template: one ``AWS::IAM::ManagedPolicy`` per document, attached to ``RoleName``."""
    documents = _documents(proposal)
    ids = unique_names(
        (logical_id(document.name) for document in documents),
        reserved={_ROLE_PARAMETER, _PLACEHOLDER},
        limit=255,
    )
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for index, (document, resource_id) in enumerate(zip(documents, ids, strict=True)):
        resources[resource_id] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": document.name,
                "Description": _policy_description(proposal, index, len(documents)),
                "PolicyDocument": document.as_json(),
                "Roles": [Ref(_ROLE_PARAMETER)],
            },
        }
        outputs[f"{resource_id}Arn"] = {
            "Description": f"ARN of the managed policy {document.name}",
            "Value": Ref(resource_id),  # Ref of a ManagedPolicy is its ARN
        }
    if not documents:
        resources[_PLACEHOLDER] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    # Always declared and used, so the stack's parameters do not change when the proposal
    # becomes empty (or stops being empty): an update passing RoleName keeps working.
    outputs[_ROLE_PARAMETER] = {
        "Description": "The role the policies are attached to",
        "Value": Ref(_ROLE_PARAMETER),
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": one_line(
            f"rightsizer: least-privilege managed policies for IAM role {proposal.role_name}"
        ),
        "Parameters": {
            _ROLE_PARAMETER: {
                "Type": "String",
                "Default": proposal.role_name,
                "Description": "Name of the IAM role to attach the policies to",
            }
        },
        "Resources": resources,
        "Outputs": outputs,
    }
    header = [
        f"Generated by rightsizer for IAM role {proposal.role_name}.",
        "The policies have fixed names: deploy with --capabilities CAPABILITY_NAMED_IAM, then",
        "remove the role's current policies as diff.md says.",
    ]
    if not documents:
        header = [
            f"Generated by rightsizer for IAM role {proposal.role_name}.",
            "The role needs no permissions, so this template creates no policy. CloudFormation",
            f"needs at least one resource: {_PLACEHOLDER} is a WaitConditionHandle, which creates",
            "nothing. Remove the role's current policies as diff.md says.",
        ]
    return dump_template(template, header)


# --------------------------------------------------------------------------------------------
# Terraform

def render_terraform(proposal: RoleProposal) -> str:
    """``aws_iam_policy`` + ``aws_iam_role_policy_attachment`` per document, ``var.role_name``."""
    documents = _documents(proposal)
    names = unique_names((hcl_name(document.name) for document in documents), reserved=set())
    blocks: list[str] = []
    header = [
        f"Generated by rightsizer for IAM role {proposal.role_name}.",
        "Apply, then remove the role's current policies as diff.md says.",
    ]
    if not documents:
        header = [
            f"Generated by rightsizer for IAM role {proposal.role_name}.",
            "The role needs no permissions: there is no policy to create. Remove the role's",
            "current policies as diff.md says.",
        ]
    blocks.append("".join(f"# {one_line(line)}\n" for line in header).rstrip("\n"))
    blocks.append(
        hcl_block(
            "terraform",
            [],
            [
                (
                    "required_providers",
                    hcl_block(
                        "required_providers",
                        [],
                        [
                            (
                                "aws",
                                {"source": "hashicorp/aws", "version": _TERRAFORM_AWS_PROVIDER},
                            )
                        ],
                    ),
                )
            ],
        )
    )
    blocks.append(
        hcl_block(
            "variable",
            ["role_name"],
            [
                ("description", "Name of the IAM role to attach the policies to"),
                ("type", Raw("string")),
                ("default", proposal.role_name),
            ],
        )
    )
    for index, (document, name) in enumerate(zip(documents, names, strict=True)):
        blocks.append(
            hcl_block(
                "resource",
                ["aws_iam_policy", name],
                [
                    ("name", document.name),
                    ("description", _policy_description(proposal, index, len(documents))),
                    ("policy", Call("jsonencode", document.as_json())),
                ],
            )
        )
        blocks.append(
            hcl_block(
                "resource",
                ["aws_iam_role_policy_attachment", name],
                [
                    ("role", Raw("var.role_name")),
                    ("policy_arn", Raw(f"aws_iam_policy.{name}.arn")),
                ],
            )
        )
    return "\n\n".join(blocks) + "\n"


# --------------------------------------------------------------------------------------------
# diff.md


def render_diff(proposal: RoleProposal, *, summary_line: str = "") -> str:
    """Markdown for a reviewer: what is removed and kept and why, the policy, how to apply it.

    ``summary_line`` is Markdown from the caller, written as is; by default a line of counts."""
    documents = _documents(proposal)
    role = proposal.role_name
    granted = len(proposal.kept) + len(proposal.removed)
    if not summary_line:
        summary_line = (
            f"**{granted}** granted actions: **{len(proposal.kept)}** kept, "
            f"**{len(proposal.removed)}** removed. The proposal allows "
            f"{plural(len(_allowed_actions(proposal)), 'action')} in "
            f"{plural(len(documents), 'managed policy', 'managed policies')}."
        )
    out: list[str] = [
        f"# Proposed least-privilege policy for role {_md(role)}",
        "",
        f"Role: {_md(proposal.role_arn)}",
        "",
        summary_line,
        "",
        "## Removed",
        "",
        *_removed_section(proposal),
        "",
        "## Kept",
        "",
        *_table(
            ("Action", "Verdict", "Why"),
            [(c.action, c.verdict, c.reason) for c in proposal.kept],
            "Nothing.",
        ),
        "",
        "## Generalized",
        "",
        "Where the resources a call touched change per task or request (task ids, dates, "
        "hashes, counters), the proposal names them with a wildcard in that place, so that "
        "tomorrow's call is still allowed; the names around it stay fixed.",
        "",
        *_table(
            ("Action", "Pattern", "Rule", "From", "For example"),
            [(g.action, g.pattern, g.rule, plural(g.observed, "resource"),
              "; ".join(g.examples)) for g in proposal.generalized],
            "Nothing: every resource is named as it was seen.",
        ),
        "",
        "## Proposed policy",
        "",
    ]
    policy_json = render_policy_json(proposal)
    if not documents:
        out += [
            "The role needs no permissions: nothing it is granted was used or has to be kept. "
            "`policy.json` holds an empty `Statement` list, which IAM refuses "
            "(MalformedPolicyDocument): create no policy, remove the role's current ones "
            "(below), or delete the role if nothing uses it.",
            "",
        ]
    elif len(documents) > 1:
        out += [
            "The policy is too large for one managed policy (IAM allows "
            f"{MANAGED_POLICY_LIMIT:,} characters), so it is split in {len(documents)}. "
            "`policy.json` is a JSON list of the documents, in this order: "
            + ", ".join(_md(d.name) for d in documents)
            + ".",
            "",
        ]
    out += [*_fenced("json", policy_json), ""]
    out += _apply_section(proposal, documents)
    return "\n".join(out) + "\n"


def _removed_section(proposal: RoleProposal) -> list[str]:
    """The removed actions grouped by service and IAM access level (harm first), then by
    reason, with counts: one row a group instead of one row an action (hundreds, most with the
    same reason). Every action is still named in its row."""
    if not proposal.removed:
        return ["Nothing."]
    groups: dict[tuple[str, int, str, str], list[str]] = {}
    for change in proposal.removed:
        service = change.action.split(":", 1)[0]
        rank, level = _level(change.action)
        groups.setdefault((service, rank, level, change.reason), []).append(change.action)
    rows = [(service, level, str(len(actions)), ", ".join(sorted(actions)), reason)
            for (service, _, level, reason), actions in sorted(groups.items())]
    levels: dict[str, int] = {}
    for (_, rank, level, _), actions in groups.items():
        levels[f"{rank}{level}"] = levels.get(f"{rank}{level}", 0) + len(actions)
    by_level = "; ".join(f"{key[1:]} {count}" for key, count in sorted(levels.items()))
    return [f"{plural(len(proposal.removed), 'action')} by access level: {by_level}.", "",
            *_table(("Service", "Access level", "Count", "Actions", "Why"), rows, "Nothing.")]


def _level(action: str) -> tuple[int, str]:
    """(rank, label) of the action's IAM access level, harm first; unknown last."""
    try:
        info = catalog().action(action)
    except (ValueError, KeyError):
        info = None
    if info is None:
        return len(AccessLevel), "not in the catalog"
    return info.access_level.rank, info.access_level.value.replace("_", " ")


def _apply_section(proposal: RoleProposal, documents: Sequence[PolicyDocument]) -> list[str]:
    """AWS CLI steps: create and attach first, save and remove the old grants, watch, roll back.

    AccessDenied can only show once the old grants are gone (while they are attached they still
    allow everything), so the advice is: attach first (never a gap), remove, watch, and keep
    what it takes to put the old grants back."""
    role = shlex.quote(proposal.role_name)
    partition = _partition(proposal.role_arn)
    new_arns = [f"arn:{partition}:iam::{proposal.account}:policy/{d.name}" for d in documents]
    current = set(proposal.current_managed)
    out = ["## Apply it", ""]
    if documents:
        out += [
            "Create the new policy and attach it first, so that the role is never without "
            "what it needs:",
            "",
        ]
        if len(documents) > 1:
            out += [
                "(`policy.json` is a list: the `jq` lines write each element to its own file, "
                "named after the policy.)",
                "",
            ]
        commands: list[str] = []
        for index, (document, arn) in enumerate(zip(documents, new_arns, strict=True)):
            source = "policy.json"
            if len(documents) > 1:
                source = f"{document.name}.json"
                commands.append(f"jq '.[{index}]' policy.json > {shlex.quote(source)}")
            file_arg = shlex.quote(f"file://{source}")
            if arn in current:
                # Attached by an earlier run: a new default version, not a new policy. (A managed
                # policy keeps at most 5 versions: delete an old one first if it has 5.)
                commands.append(
                    f"aws iam create-policy-version --policy-arn {shlex.quote(arn)} "
                    f"--policy-document {file_arg} --set-as-default"
                )
            else:
                commands.append(
                    f"aws iam create-policy --policy-name {shlex.quote(document.name)} "
                    f"--policy-document {file_arg}"
                )
                commands.append(
                    f"aws iam attach-role-policy --role-name {role} --policy-arn {shlex.quote(arn)}"
                )
        out += [*_fenced("sh", "\n".join(commands) + "\n"), ""]

    inline = list(proposal.current_inline)
    managed = [arn for arn in proposal.current_managed if arn not in new_arns]
    if not inline and not managed:
        return [*out, "The role has no other policies to remove."]
    if inline:
        out += ["Save the current inline policies, to put them back if needed:", ""]
        saves = [
            f"aws iam get-role-policy --role-name {role} --policy-name {shlex.quote(name)} "
            f"--query PolicyDocument --output json > {shlex.quote(_backup_file(name))}"
            for name in inline
        ]
        out += [*_fenced("sh", "\n".join(saves) + "\n"), ""]
    lead = "Then remove the current policies:" if documents else "Remove its policies:"
    removals = [
        f"aws iam delete-role-policy --role-name {role} --policy-name {shlex.quote(name)}"
        for name in inline
    ] + [
        f"aws iam detach-role-policy --role-name {role} --policy-arn {shlex.quote(arn)}"
        for arn in managed
    ]
    out += [lead, "", *_fenced("sh", "\n".join(removals) + "\n"), ""]
    rollback = [
        f"aws iam put-role-policy --role-name {role} --policy-name {shlex.quote(name)} "
        f"--policy-document {shlex.quote('file://' + _backup_file(name))}"
        for name in inline
    ] + [
        f"aws iam attach-role-policy --role-name {role} --policy-arn {shlex.quote(arn)}"
        for arn in managed
    ]
    out += [
        "Watch the service's logs and CloudTrail for AccessDenied or UnauthorizedOperation "
        "errors by this role for a while (a full business cycle, if it has monthly or "
        "quarterly jobs; try it in a staging account first if there is one). To roll back, "
        "put back what was removed:",
        "",
        *_fenced("sh", "\n".join(rollback) + "\n"),
    ]
    return out


def _backup_file(inline_policy_name: str) -> str:
    return f"{inline_policy_name}.backup.json"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> list[str]:
    if not rows:
        return [empty]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines.extend("| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows)
    return lines


# Characters that could start Markdown or HTML inside a cell or heading: backslash-escaped
# (CommonMark allows it before any ASCII punctuation; GFM needs it for "|" in tables).
_MD_SPECIAL = frozenset("\\`*_[]<>|~&")


def _md(text: str) -> str:
    """Text that renders as itself in a Markdown table cell (newlines become ``<br>``)."""
    escaped = "".join("\\" + char if char in _MD_SPECIAL else char for char in text)
    return escape_controls(re.sub(r"\r\n|\r|\n", "<br>", escaped))


def _fenced(language: str, text: str) -> list[str]:
    # A fence longer than any backtick run inside, so no content can close it early.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *text.rstrip("\n").split("\n"), fence]


# --------------------------------------------------------------------------------------------
# shared


def _documents(proposal: RoleProposal) -> list[PolicyDocument]:
    # A document without statements is not a policy IAM accepts: leave it out everywhere.
    return [document for document in proposal.documents if document.statements]


def _allowed_actions(proposal: RoleProposal) -> set[str]:
    # Carried-over Deny statements restrict; they are not part of what the proposal allows.
    return {a for s in proposal.statements if s.effect == "Allow" for a in s.actions}


def _policy_description(proposal: RoleProposal, index: int, count: int) -> str:
    part = f" (part {index + 1} of {count})" if count > 1 else ""
    return one_line(
        f"Least-privilege permissions for role {proposal.role_name}, proposed by rightsizer "
        f"from CloudTrail{part}"
    )


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else "aws"
