"""What the infrastructure-as-code renderings share: a YAML dumper for CloudFormation templates,
an HCL writer for Terraform, and the names both need.

Why one module: ``render.py`` (a proposal for an existing role) and ``new_role_render.py`` (a
role for a service with no history) write the same two languages, and a fix to quoting belongs
in one place.

- CloudFormation: logical IDs are alphanumeric and unique in the template,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html.
  Emitted with PyYAML (ordered keys, no aliases, ``!Ref`` as a local tag).
- Terraform: HCL native syntax. Strings treat ``${`` and ``%{`` as template sequences, so IAM
  policy variables such as ``${aws:username}`` are written ``$${aws:username}`` (HCL native
  syntax spec, "Template Literals"). Resource names are HCL identifiers (letters, digits, ``_``,
  ``-``; not starting with a digit). ``=`` is aligned over runs of one-line attributes, as
  ``terraform fmt`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

__all__ = ["Block", "Call", "GetAtt", "Raw", "Ref", "dump_template", "hcl_block", "hcl_name",
           "hcl_string", "logical_id", "one_line", "unique_names"]


class Ref(str):
    """A ``!Ref NAME`` in the YAML template."""

    __slots__ = ()


class GetAtt(str):
    """A ``!GetAtt NAME.ATTRIBUTE`` in the YAML template."""

    __slots__ = ()


# libyaml's emitter when PyYAML was built with it (it is ten times faster on many roles), the
# pure-Python one otherwise; they write the same text.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class TemplateDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    # The same dict or list may sit at two places (e.g. equal Condition blocks): never emit
    # anchors and aliases, which CloudFormation reads but a reviewer should not have to.
    def ignore_aliases(self, data: Any) -> bool:
        return True


TemplateDumper.add_representer(
    Ref, lambda dumper, value: dumper.represent_scalar("!Ref", str(value))
)
TemplateDumper.add_representer(
    GetAtt, lambda dumper, value: dumper.represent_scalar("!GetAtt", str(value))
)


def logical_id(name: str) -> str:
    # "rightsizer-orders-api-task-2" -> "RightsizerOrdersApiTask2"
    parts = re.findall(r"[A-Za-z0-9]+", name)
    camel = "".join(part[0].upper() + part[1:] for part in parts)
    return camel if camel[:1].isalpha() else f"Policy{camel}"



_HCL_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HCL_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if"})



class Raw(str):
    """An HCL expression written as is (a reference or a type), not a quoted string."""

    __slots__ = ()


class Call:
    """``function(argument)`` with the argument rendered as an HCL value."""

    __slots__ = ("argument", "function")

    def __init__(self, function: str, argument: Any) -> None:
        self.function = function
        self.argument = argument


class Block(str):
    """A rendered HCL block; as an attribute value of another block it is nested, not assigned."""

    __slots__ = ()


def hcl_block(kind: str, labels: Sequence[str], attributes: Sequence[tuple[str, Any]]) -> Block:
    """``kind "label" ... { attributes }``."""
    head = " ".join([kind, *(hcl_string(label) for label in labels)])
    lines = [f"{head} {{"]
    plain: list[tuple[str, Any]] = []
    for key, value in attributes:
        if isinstance(value, Block):
            lines.extend(_hcl_items(plain, "  "))
            plain = []
            lines.extend("  " + line for line in value.splitlines())
        else:
            plain.append((key, value))
    lines.extend(_hcl_items(plain, "  "))
    lines.append("}")
    return Block("\n".join(lines))


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
    if isinstance(value, Raw):
        return [str(value)]
    if isinstance(value, str):
        return [hcl_string(value)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        return [json.dumps(value)]
    if isinstance(value, Call):
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
    return hcl_string(key)


def hcl_string(text: str) -> str:
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


def hcl_name(name: str) -> str:
    # Terraform resource names: letters, digits, "_" and "-", starting with a letter or "_".
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"policy_{cleaned}"



def unique_names(names: Iterable[str], *, reserved: set[str], limit: int | None = None
                 ) -> list[str]:
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



def one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text)


def dump_template(template: Mapping[str, Any], header: Sequence[str]) -> str:
    """A CloudFormation template as YAML, after ``# `` comment lines."""
    body = yaml.dump(
        template,
        Dumper=TemplateDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,
        width=1_000_000,  # no folded lines: one ARN per line reads and diffs better
        indent=2,
    )
    return "".join(f"# {one_line(line)}\n" for line in header) + body
