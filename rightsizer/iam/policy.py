"""IAM policy documents parsed into frozen statements, from every shape AWS and its tools emit.

Why a parser of our own: the documents reach us as dicts (boto3), JSON text (files, CloudFormation)
and URL-encoded JSON (``aws iam get-role`` and ``get-account-authorization-details`` return
``%7B%22Version%22...``), and every element that may hold one value may also hold a list
(``Statement``, ``Action``, ``Resource``, ``Principal`` values, ``Condition`` values). Everything
downstream wants one shape, so this module flattens them once and refuses, with a message naming
the policy and the statement, what it cannot read.

Grammar relied on (IAM User Guide):
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
  ("Condition": {operator: {key: value-or-list}}; several operators and keys per block)
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

Choices:
- Condition values are kept as strings, the way IAM compares them: JSON ``true`` becomes
  ``"true"``, numbers their JSON spelling (``1`` -> ``"1"``, ``1.5`` -> ``"1.5"``).
- Unknown elements (``Id``, a misspelt key) are ignored rather than refused: a document IAM
  accepted never has them, and a stray key in a hand-written file should not hide the rest.
- ``Statement: []`` is accepted (a policy with nothing in it); a missing or null one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import unquote

from rightsizer.errors import PolicyError

__all__ = [
    "Condition",
    "Effect",
    "Policy",
    "PolicyKind",
    "Principals",
    "Statement",
    "parse_policy",
]

Effect = Literal["Allow", "Deny"]
PolicyKind = Literal["inline", "managed", "aws_managed", "boundary", "trust", "resource"]
Principals = tuple[tuple[str, tuple[str, ...]], ...]

_KINDS: frozenset[str] = frozenset(get_args(PolicyKind))
# Identity-based documents must say what they apply to; trust and resource policies are attached
# to the resource, so IAM lets them leave Resource out.
_RESOURCE_REQUIRED: frozenset[str] = frozenset({"inline", "managed", "aws_managed", "boundary"})


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key) pair of a Condition block with the values the policy lists for it."""

    operator: str  # as written, e.g. "StringEqualsIfExists", "ForAnyValue:StringLike"
    key: str  # as written, e.g. "aws:SourceAccount"; keys compare case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, its list-or-string elements flattened to tuples.

    Exactly one of ``actions`` / ``not_actions`` is set. ``resources`` and ``not_resources`` are
    both None only in trust and resource policies, which may omit the element.
    """

    policy: str  # name of the policy holding it
    index: int  # 0-based position in the policy
    sid: str | None
    effect: Effect
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...] = ()
    principals: Principals | None = None
    not_principals: Principals | None = None
    kind: PolicyKind = "inline"  # kind of the holding policy, for ``ref``

    @property
    def ref(self) -> str:
        """A stable human label, e.g. ``inline:app#2 (Sid "S3Read")``."""
        label = f"{self.kind}:{self.policy}#{self.index}"
        return f'{label} (Sid "{self.sid}")' if self.sid else label


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    kind: PolicyKind
    arn: str | None
    version: str | None  # the "Version" element
    statements: tuple[Statement, ...]


def parse_policy(
    document: str | bytes | Mapping[str, Any],
    *,
    name: str,
    kind: PolicyKind = "inline",
    arn: str | None = None,
) -> Policy:
    """Parse one policy document (dict, JSON text, or URL-encoded JSON text).

    Raises PolicyError (``policy <name>: <reason>``) when the document cannot be read.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown policy kind {kind!r}; expected one of {sorted(_KINDS)}")
    root = _load(document, name)
    if "Statement" not in root or root["Statement"] is None:
        raise PolicyError(f"policy {name}: no Statement element")
    version = root.get("Version")
    if version is not None and not isinstance(version, str):
        raise PolicyError(f"policy {name}: Version must be a string, got {_type(version)}")
    raw = root["Statement"]
    raw_statements: Sequence[Any] = raw if isinstance(raw, list) else [raw]
    statements = tuple(
        _statement(item, index, name, kind) for index, item in enumerate(raw_statements)
    )
    return Policy(name=name, kind=kind, arn=arn, version=version, statements=statements)


def _load(document: str | bytes | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    if isinstance(document, bytes | bytearray):
        try:
            document = bytes(document).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"policy {name}: not UTF-8 text ({exc.reason})") from None
    if not isinstance(document, str):
        raise PolicyError(f"policy {name}: expected a JSON object or text, got {_type(document)}")
    try:
        loaded = json.loads(document)
    except json.JSONDecodeError as first:
        # IAM's get-role / authorization-details return the document URL-encoded. Decode only when
        # the text is not JSON already: a JSON document may legitimately contain "%41".
        decoded = unquote(document)
        if decoded == document:
            raise PolicyError(f"policy {name}: not JSON ({first.msg} at {first.pos})") from None
        try:
            loaded = json.loads(decoded)
        except json.JSONDecodeError as second:
            raise PolicyError(
                f"policy {name}: not JSON, even URL-decoded ({second.msg} at {second.pos})"
            ) from None
    if not isinstance(loaded, dict):
        raise PolicyError(f"policy {name}: the document is {_type(loaded)}, not a JSON object")
    return loaded


def _statement(raw: Any, index: int, name: str, kind: PolicyKind) -> Statement:
    where = f"statement {index}"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"policy {name}: {where} is {_type(raw)}, not an object")
    sid = raw.get("Sid")
    if sid is not None:
        if isinstance(sid, bool) or not isinstance(sid, str | int):
            raise PolicyError(f"policy {name}: {where}: Sid must be a string, got {_type(sid)}")
        sid = str(sid)
        if sid:
            where = f'statement {index} (Sid "{sid}")'

    def fail(reason: str) -> PolicyError:
        return PolicyError(f"policy {name}: {where}: {reason}")

    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise fail(f'Effect must be "Allow" or "Deny", got {json.dumps(effect)}')

    actions = _strings(raw, "Action", fail)
    not_actions = _strings(raw, "NotAction", fail)
    if actions is not None and not_actions is not None:
        raise fail("has both Action and NotAction")
    if actions is None and not_actions is None:
        raise fail("has neither Action nor NotAction")

    resources = _strings(raw, "Resource", fail)
    not_resources = _strings(raw, "NotResource", fail)
    if resources is not None and not_resources is not None:
        raise fail("has both Resource and NotResource")
    if resources is None and not_resources is None and kind in _RESOURCE_REQUIRED:
        raise fail(f"has neither Resource nor NotResource (required in a {kind} policy)")

    return Statement(
        policy=name,
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        conditions=_conditions(raw.get("Condition"), fail),
        principals=_principals(raw, "Principal", fail),
        not_principals=_principals(raw, "NotPrincipal", fail),
        kind=kind,
    )


def _strings(raw: Mapping[str, Any], element: str, fail: Any) -> tuple[str, ...] | None:
    """A string-or-list element as a tuple; None when the element is absent."""
    if element not in raw:
        return None
    value = raw[element]
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise fail(f"{element} must be a string or a list of strings, got {_type(value)}")
    if not value:
        raise fail(f"{element} is an empty list")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise fail(f"{element} entry {position} is {_type(item)}, not a string")
    return tuple(value)


def _conditions(raw: Any, fail: Any) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise fail(f"Condition must be an object, got {_type(raw)}")
    out: list[Condition] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping):
            raise fail(f"Condition {operator} must map keys to values, got {_type(block)}")
        for key, value in block.items():
            items = value if isinstance(value, list) else [value]
            values = tuple(_condition_value(v, f"Condition {operator} {key}", fail) for v in items)
            out.append(Condition(operator=str(operator), key=str(key), values=values))
    return tuple(out)


def _condition_value(value: Any, where: str, fail: Any) -> str:
    # bool before int: True is an int in Python, and IAM spells it "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise fail(f"{where}: a value is {_type(value)}, not a string, number or boolean")


def _principals(raw: Mapping[str, Any], element: str, fail: Any) -> Principals | None:
    if element not in raw:
        return None
    value = raw[element]
    if value == "*":
        return (("*", ("*",)),)
    if not isinstance(value, Mapping):
        raise fail(f'{element} must be "*" or an object, got {json.dumps(value)[:60]}')
    out: list[tuple[str, tuple[str, ...]]] = []
    for principal_type, ids in value.items():
        items = ids if isinstance(ids, list) else [ids]
        if not items or not all(isinstance(item, str) for item in items):
            raise fail(f"{element} {principal_type} must be a string or a list of strings")
        out.append((str(principal_type), tuple(items)))
    return tuple(out)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
