"""Split a proposal's statements into managed policies that IAM will accept.

Why: a role's least-privilege policy can name hundreds of ARNs, and IAM refuses a managed policy
larger than 6,144 characters (DOMAIN.md section 7). Rather than widen ARNs to ``*`` to make it fit,
the statements are packed into as few documents as possible, each within the limit; a statement
that is too big on its own is cut into several by its Resource list, then by its Action list.

Facts relied on:
- IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): a
  managed policy may hold 6,144 characters, and IAM does not count whitespace; a role may have 10
  managed policies attached by default, raised to 20 on request (the AWS knowledge-center article
  "iam-increase-policy-size" says the same: default 10, up to 20 by a quota increase).
- Sid (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html):
  ASCII letters and digits only, unique within a policy.

Choices:
- Size is measured as the compact JSON (``separators=(",", ":")``, ASCII-escaped). That counts the
  whitespace inside strings and a ``\\u00e9`` escape as six characters, so it is never below what
  IAM counts for the same document sent as JSON text, CloudFormation or Terraform: safe, a few
  characters pessimistic at worst.
- Packing is first-fit in the given order: each statement goes into the first document with room.
  Deterministic, stable when one statement changes, never more documents than next-fit, and each
  document keeps its statements in their given order.
- No statements give no documents: nothing to attach (the caller decides what to say about it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from rightsizer.proposal.model import POLICY_VERSION, PolicyDocument, ProposedStatement

__all__ = [
    "MANAGED_POLICY_LIMIT",
    "MAX_MANAGED_POLICIES_PER_ROLE",
    "policy_size",
    "split_statements",
]

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html ("Managed policy
# size": 6,144 characters, whitespace not counted).
MANAGED_POLICY_LIMIT = 6144
# Same page: managed policies attached to a role, default quota 10 (20 at most, on request).
MAX_MANAGED_POLICIES_PER_ROLE = 10

_NOT_SID = re.compile(r"[^A-Za-z0-9]")
# Size of {"Version":"2012-10-17","Statement":[]}: what a document costs before its statements.
_DOCUMENT_OVERHEAD = len(
    json.dumps({"Version": POLICY_VERSION, "Statement": []}, separators=(",", ":"))
)


def policy_size(document: Mapping[str, Any]) -> int:
    """Characters the document counts against IAM's limit, as an upper bound (module docstring)."""
    return len(_compact(document))


def split_statements(
    statements: Sequence[ProposedStatement],
    *,
    base_name: str,
    limit: int = MANAGED_POLICY_LIMIT,
    max_documents: int = MAX_MANAGED_POLICIES_PER_ROLE,
) -> tuple[PolicyDocument, ...]:
    """Pack ``statements`` into as few documents of at most ``limit`` characters as first-fit can.

    Names: ``base_name`` for a single document, else ``base_name-1``, ``base_name-2``, ...
    Raises ValueError when one action on one resource cannot fit in a document on its own, or
    when more than ``max_documents`` documents would be needed.
    """
    budget = limit - _DOCUMENT_OVERHEAD  # room for the statements of one document
    taken = {s.sid for s in statements}
    pieces = [piece for s in statements for piece in _fit(s, budget, taken)]

    bins: list[list[ProposedStatement]] = []
    used: list[int] = []  # characters each bin's statements take, commas included
    for piece in pieces:
        size = _statement_size(piece)
        for index, content in enumerate(bins):
            # A second statement costs its own size plus the comma before it.
            if used[index] + 1 + size <= budget:
                content.append(piece)
                used[index] += 1 + size
                break
        else:
            bins.append([piece])
            used.append(size)

    if len(bins) > max_documents:
        raise ValueError(
            f"policy {base_name}: {len(pieces)} statements need {len(bins)} managed policies of "
            f"at most {limit} characters, more than the {max_documents} a role may have attached "
            "(IAM quota, default 10, at most 20 on request); use wider resource patterns or split "
            "the role"
        )
    if len(bins) == 1:
        return (PolicyDocument(name=base_name, statements=tuple(bins[0])),)
    return tuple(
        PolicyDocument(name=f"{base_name}-{number}", statements=tuple(content))
        for number, content in enumerate(bins, start=1)
    )


def _fit(statement: ProposedStatement, budget: int, taken: set[str]) -> list[ProposedStatement]:
    """The statement itself if it fits, else pieces that each fit, with fresh Sids."""
    if _statement_size(statement) <= budget:
        return [statement]
    parts = list(_cut(statement, statement.actions, statement.resources, budget))
    base = _NOT_SID.sub("", statement.sid) or "Statement"
    out: list[ProposedStatement] = []
    number = 0
    for actions, resources in parts:
        number += 1
        while f"{base}{number}" in taken:  # keep Sids unique within whatever document
            number += 1
        sid = f"{base}{number}"
        taken.add(sid)
        out.append(replace(statement, sid=sid, actions=actions, resources=resources))
    return out


def _cut(
    statement: ProposedStatement,
    actions: tuple[str, ...],
    resources: tuple[str, ...],
    budget: int,
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(actions, resources) pairs covering ``actions x resources``, each fitting ``budget``.

    Resources are cut first (one statement per group of ARNs, all actions in each); the actions
    are cut only when every action together does not fit with even one of the resources."""

    def fits(a: tuple[str, ...], r: tuple[str, ...]) -> bool:
        return _statement_size(replace(statement, actions=a, resources=r)) <= budget

    if fits(actions, resources):
        yield actions, resources
        return
    longest_resource = (max(resources, key=_json_length),)
    longest_action = (max(actions, key=_json_length),)
    if len(resources) > 1 and fits(actions, longest_resource):
        yield from ((actions, group) for group in _greedy(resources, lambda g: fits(actions, g)))
    elif len(actions) > 1 and fits(longest_action, resources):
        yield from ((group, resources) for group in _greedy(actions, lambda g: fits(g, resources)))
    elif len(actions) > 1:
        # Neither list fits whole with one of the other: halve the actions, then cut again.
        middle = len(actions) // 2
        yield from _cut(statement, actions[:middle], resources, budget)
        yield from _cut(statement, actions[middle:], resources, budget)
    elif len(resources) > 1:
        middle = len(resources) // 2
        yield from _cut(statement, actions, resources[:middle], budget)
        yield from _cut(statement, actions, resources[middle:], budget)
    else:
        raise ValueError(
            f"statement {statement.sid}: {actions[0]} on {resources[0]} with its conditions is "
            f"{_statement_size(statement)} characters, more than a managed policy can hold"
        )


def _greedy(
    items: tuple[str, ...], fits: Callable[[tuple[str, ...]], bool]
) -> Iterator[tuple[str, ...]]:
    """Consecutive groups of ``items``, each as long as ``fits`` allows (every single one fits)."""
    group: list[str] = []
    for item in items:
        if group and not fits((*group, item)):
            yield tuple(group)
            group = []
        group.append(item)
    if group:
        yield tuple(group)


def _statement_size(statement: ProposedStatement) -> int:
    return len(_compact(statement.as_json()))


def _json_length(value: str) -> int:
    return len(json.dumps(value))


def _compact(value: Any) -> str:
    # ensure_ascii: an escape is longer than the character, so the count stays an upper bound.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)
