"""Text renderings of a RoleProposal: policy.json, policy.cfn.yaml, policy.tf and diff.md.

Why: DESIGN.md's output folder promises, per role, the proposed policy as JSON, CloudFormation and
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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

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


class _Ref(str):
    """A ``!Ref NAME`` in the YAML template."""

    __slots__ = ()


# libyaml's emitter when PyYAML was built with it (it is ten times faster on many roles), the
# pure-Python one otherwise; they write the same text.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _TemplateDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    # The same dict or list may sit at two places (e.g. equal Condition blocks): never emit
    # anchors and aliases, which CloudFormation reads but a reviewer should not have to.
    def ignore_aliases(self, data: Any) -> bool:
        return True


_TemplateDumper.add_representer(
    _Ref, lambda dumper, value: dumper.represent_scalar("!Ref", str(value))
)


def render_cloudformation(proposal: RoleProposal) -> str:
    """A YAML template: one ``AWS::IAM::ManagedPolicy`` per document, attached to ``RoleName``."""
    documents = _documents(proposal)
    ids = _unique(
        (_logical_id(document.name) for document in documents),
        reserved={_ROLE_PARAMETER, _PLACEHOLDER},
        limit=255,
    )
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for index, (document, logical_id) in enumerate(zip(documents, ids, strict=True)):
        resources[logical_id] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": document.name,
                "Description": _policy_description(proposal, index, len(documents)),
                "PolicyDocument": document.as_json(),
                "Roles": [_Ref(_ROLE_PARAMETER)],
            },
        }
        outputs[f"{logical_id}Arn"] = {
            "Description": f"ARN of the managed policy {document.name}",
            "Value": _Ref(logical_id),  # Ref of a ManagedPolicy is its ARN
        }
    if not documents:
        resources[_PLACEHOLDER] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    # Always declared and used, so the stack's parameters do not change when the proposal
    # becomes empty (or stops being empty): an update passing RoleName keeps working.
    outputs[_ROLE_PARAMETER] = {
        "Description": "The role the policies are attached to",
        "Value": _Ref(_ROLE_PARAMETER),
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": _one_line(
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
    body = yaml.dump(
        template,
        Dumper=_TemplateDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,
        width=1_000_000,  # no folded lines: one ARN per line reads and diffs better
        indent=2,
    )
    return "".join(f"# {_one_line(line)}\n" for line in header) + body


def _logical_id(name: str) -> str:
    # "rightsizer-orders-api-task-2" -> "RightsizerOrdersApiTask2"
    parts = re.findall(r"[A-Za-z0-9]+", name)
    camel = "".join(part[0].upper() + part[1:] for part in parts)
    return camel if camel[:1].isalpha() else f"Policy{camel}"


# --------------------------------------------------------------------------------------------
# Terraform

_HCL_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HCL_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if"})


def render_terraform(proposal: RoleProposal) -> str:
    """``aws_iam_policy`` + ``aws_iam_role_policy_attachment`` per document, ``var.role_name``."""
    documents = _documents(proposal)
    names = _unique((_hcl_name(document.name) for document in documents), reserved=set())
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
    blocks.append("".join(f"# {_one_line(line)}\n" for line in header).rstrip("\n"))
    blocks.append(
        _hcl_block(
            "terraform",
            [],
            [
                (
                    "required_providers",
                    _hcl_block(
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
        _hcl_block(
            "variable",
            ["role_name"],
            [
                ("description", "Name of the IAM role to attach the policies to"),
                ("type", _Raw("string")),
                ("default", proposal.role_name),
            ],
        )
    )
    for index, (document, name) in enumerate(zip(documents, names, strict=True)):
        blocks.append(
            _hcl_block(
                "resource",
                ["aws_iam_policy", name],
                [
                    ("name", document.name),
                    ("description", _policy_description(proposal, index, len(documents))),
                    ("policy", _Call("jsonencode", document.as_json())),
                ],
            )
        )
        blocks.append(
            _hcl_block(
                "resource",
                ["aws_iam_role_policy_attachment", name],
                [
                    ("role", _Raw("var.role_name")),
                    ("policy_arn", _Raw(f"aws_iam_policy.{name}.arn")),
                ],
            )
        )
    return "\n\n".join(blocks) + "\n"


class _Raw(str):
    """An HCL expression written as is (a reference or a type), not a quoted string."""

    __slots__ = ()


class _Call:
    """``function(argument)`` with the argument rendered as an HCL value."""

    __slots__ = ("argument", "function")

    def __init__(self, function: str, argument: Any) -> None:
        self.function = function
        self.argument = argument


class _Block(str):
    """A rendered HCL block; as an attribute value of another block it is nested, not assigned."""

    __slots__ = ()


def _hcl_block(kind: str, labels: Sequence[str], attributes: Sequence[tuple[str, Any]]) -> _Block:
    """``kind "label" ... { attributes }``."""
    head = " ".join([kind, *(_hcl_string(label) for label in labels)])
    lines = [f"{head} {{"]
    plain: list[tuple[str, Any]] = []
    for key, value in attributes:
        if isinstance(value, _Block):
            lines.extend(_hcl_items(plain, "  "))
            plain = []
            lines.extend("  " + line for line in value.splitlines())
        else:
            plain.append((key, value))
    lines.extend(_hcl_items(plain, "  "))
    lines.append("}")
    return _Block("\n".join(lines))


def _hcl_items(items: Sequence[tuple[str, Any]], indent: str) -> list[str]:
    """``key = value`` lines, ``=`` aligned over runs of one-line values (as terraform fmt)."""
    rendered = [(_hcl_key(key), _hcl_value(value, indent)) for key, value in items]
    lines: list[str] = []
    run: list[tuple[str, list[str]]] = []

    def flush() -> None:
        width = max((len(key) for key, _ in run), default=0)
        for key, value_lines in run:
            lines.append(f"{indent}{key.ljust(width)} = {value_lines[0]}")
            lines.extend(value_lines[1:])
        run.clear()

    for key, value_lines in rendered:
        if len(value_lines) > 1:
            flush()
            run.append((key, value_lines))
            flush()
        else:
            run.append((key, value_lines))
    flush()
    return lines


def _hcl_value(value: Any, indent: str) -> list[str]:
    """The value as lines; the first follows ``key = ``, the rest carry their own indent."""
    if isinstance(value, _Raw):
        return [str(value)]
    if isinstance(value, str):
        return [_hcl_string(value)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        return [json.dumps(value)]
    if isinstance(value, _Call):
        inner = _hcl_value(value.argument, indent)
        inner[0] = f"{value.function}({inner[0]}"
        inner[-1] = f"{inner[-1]})"
        return inner
    inner_indent = indent + "  "
    if isinstance(value, Mapping):
        body = _hcl_items([(str(k), v) for k, v in value.items()], inner_indent)
        return ["{", *body, f"{indent}}}"]
    if isinstance(value, list | tuple):
        if not value:
            return ["[]"]
        lines = ["["]
        for item in value:
            item_lines = _hcl_value(item, inner_indent)
            item_lines[0] = inner_indent + item_lines[0]
            item_lines[-1] += ","  # trailing commas: one line changes per added element
            lines.extend(item_lines)
        lines.append(f"{indent}]")
        return lines
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


def _hcl_key(key: str) -> str:
    if _HCL_BARE_KEY.fullmatch(key) and key not in _HCL_KEYWORDS:
        return key
    return _hcl_string(key)


def _hcl_string(text: str) -> str:
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    # "$${" and "%%{" are HCL's escapes for a literal "${" / "%{" (IAM policy variables).
    escaped = "".join(out).replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def _hcl_name(name: str) -> str:
    # Terraform resource names: letters, digits, "_" and "-", starting with a letter or "_".
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"policy_{cleaned}"


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
        *_table(("Action", "Why"), [(c.action, c.reason) for c in proposal.removed], "Nothing."),
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
    return _one_line(
        f"Least-privilege permissions for role {proposal.role_name}, proposed by rightsizer "
        f"from CloudTrail{part}"
    )


def _unique(names: Iterable[str], *, reserved: set[str], limit: int | None = None) -> list[str]:
    """The names, each made unique (``2``, ``3`` appended) against earlier ones and ``reserved``."""
    seen = set(reserved)
    out: list[str] = []
    for name in names:
        base = name[:limit] if limit else name
        candidate, number = base, 1
        while candidate in seen:
            number += 1
            suffix = str(number)
            candidate = (base[: limit - len(suffix)] if limit else base) + suffix
        seen.add(candidate)
        out.append(candidate)
    return out


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else "aws"


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text)


