"""Split a proposal's statements into managed policies that IAM will accept.

Why: a role's least-privilege policy can name hundreds of ARNs, and IAM refuses a managed policy
larger than 6,144 characters. Rather than widen ARNs to ``*`` to make it fit,
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
- Size is measured as the compact JSON (``separators=(",", ":")``), with every character that
  some encoder escapes counted escaped: non-ASCII (``\\u00e9``, six characters) and ``<``, ``>``,
  ``&``, which Terraform's ``jsonencode`` writes as ``\\u003c`` and so on
  (https://developer.hashicorp.com/terraform/language/functions/jsonencode). That and the
  whitespace inside strings make it never below what IAM counts for the same document sent as
  JSON text, by CloudFormation or by Terraform: safe, a few characters pessimistic at worst.
- Packing is first-fit in the given order: each statement goes into the first document with room.
  Deterministic, stable when one statement changes, never more documents than next-fit, and each
  document keeps its statements in their given order.
- No statements give no documents: nothing to attach (the caller decides what to say about it).
- Cutting a statement keeps its meaning: it applies to the product of its Action and Resource
  lists, so one list cut into groups gives statements that together say the same (Allow or
  Deny alike; an explicit Deny applies from whichever attached policy holds it). A NotAction or
  NotResource list is never cut ("all but a" and "all but b" together are everything).
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
    Raises ValueError when a piece that cannot be cut further (one action on one resource, or a
    whole NotAction / NotResource list) does not fit in a document, or when more than
    ``max_documents`` documents would be needed.
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
    names = [base_name] if len(bins) == 1 else [f"{base_name}-{n}" for n in range(1, len(bins) + 1)]
    documents = tuple(PolicyDocument(name=name, statements=tuple(content))
                      for name, content in zip(names, bins, strict=True))
    for document in documents:
        # The packing counts pieces; this counts the document IAM will be given. A document
        # over the limit would fail only when applied, in production: stop here instead.
        if policy_size(document.as_json()) > limit:
            raise ValueError(f"policy {document.name}: {policy_size(document.as_json())} "
                             f"characters, over IAM's limit of {limit}")
    return documents


def _fit(statement: ProposedStatement, budget: int, taken: set[str]) -> list[ProposedStatement]:
    """The statement itself if it fits, else pieces that each fit, with fresh Sids."""
    if _statement_size(statement) <= budget:
        return [statement]
    base = _NOT_SID.sub("", statement.sid) or "Statement"
    digits = 1
    while True:
        # Size the pieces with the longest Sid they may get ("Base" + `digits` digits): the
        # numbers are known only once the pieces are, so widen and cut again if they outgrow it.
        sizing = replace(statement, sid=base + "0" * digits)
        parts = list(_cut(sizing, budget))
        sids = _fresh_sids(base, len(parts), taken)
        if all(len(sid) <= len(base) + digits for sid in sids):
            break
        digits += 1
    taken.update(sids)
    return [
        _with(statement, actions, resources, sid=sid)
        for (actions, resources), sid in zip(parts, sids, strict=True)
    ]


def _fresh_sids(base: str, count: int, taken: set[str]) -> list[str]:
    """``base1``, ``base2``, ... skipping Sids already used, so each stays unique."""
    out: list[str] = []
    number = 0
    while len(out) < count:
        number += 1
        if f"{base}{number}" not in taken:
            out.append(f"{base}{number}")
    return out


def _with(
    statement: ProposedStatement,
    actions: tuple[str, ...],
    resources: tuple[str, ...],
    *,
    sid: str | None = None,
) -> ProposedStatement:
    """The statement over other action and resource lists (NotAction / NotResource if it has)."""
    return replace(
        statement,
        sid=statement.sid if sid is None else sid,
        **{"not_actions" if statement.not_actions else "actions": actions},
        **{"not_resources" if statement.not_resources else "resources": resources},
    )


def _cut(
    statement: ProposedStatement, budget: int
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(actions, resources) pairs whose statements together say what ``statement`` says, each
    fitting ``budget``.

    A statement applies to the product of its Action and Resource lists, so either list can be
    cut into groups, one statement per group. Not a NotAction or NotResource list: "all but a"
    and "all but b" together are everything, not "all but a and b"; those stay whole.
    Resources are cut first (every action in each piece); then actions (every resource in each
    piece); when neither list fits whole beside one item of the other, both are cut, the action
    groups taking about half the room, which keeps the count of pieces (their product) low."""
    actions = statement.not_actions or statement.actions
    resources = statement.not_resources or statement.resources

    def size(a: tuple[str, ...], r: tuple[str, ...]) -> int:
        return _statement_size(_with(statement, a, r))

    def fits(a: tuple[str, ...], r: tuple[str, ...]) -> bool:
        return size(a, r) <= budget

    # The least that a piece can hold: one item of a list that may be cut, a whole list otherwise.
    fewest_resources = resources if statement.not_resources else (max(resources, key=_length),)
    fewest_actions = actions if statement.not_actions else (max(actions, key=_length),)
    smallest = size(fewest_actions, fewest_resources)  # the largest piece that cannot be cut
    if smallest > budget:
        raise ValueError(
            f"statement {statement.sid}: {', '.join(fewest_actions)} on "
            f"{', '.join(fewest_resources)} with its conditions takes {smallest} characters, "
            "more than a managed policy can hold"
        )
    if fits(actions, fewest_resources):
        yield from ((actions, group) for group in _greedy(resources, lambda g: fits(actions, g)))
    elif fits(fewest_actions, resources):
        yield from ((group, resources) for group in _greedy(actions, lambda g: fits(g, resources)))
    else:  # both lists may be cut (a whole list would have been taken by a branch above)
        half = (budget + smallest) // 2
        for group in _greedy(actions, lambda g: size(g, fewest_resources) <= half):
            # fits(group, any one resource) holds, so every resource finds a piece.
            for chunk in _greedy(resources, lambda r, g=group: fits(g, r)):
                yield group, chunk


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


def _length(value: str) -> int:
    return len(json.dumps(value))


def _compact(value: Any) -> str:
    # Escapes are longer than the characters, so counting them keeps the size an upper bound.
    # ("<", ">" and "&" can only be inside strings here, so replacing them is safe.)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
