"""The evaluator against a brute-force reference over a small universe of actions and resources.

The reference expands every statement to the explicit set of (action, resource) pairs it covers,
using its own tiny wildcard matcher (not ``rightsizer.iam.patterns``), then decides by set
membership: denied if any Deny covers the pair, allowed if an identity Allow covers it and (with a
boundary) a boundary Allow does too, otherwise implicitly denied.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.evaluate import Evaluator, Request, evaluate
from rightsizer.iam.policy import Policy, parse_policy

ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
)
RESOURCES = (
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/a.txt",
    "arn:aws:s3:::bocket/b",
    "arn:aws:sqs:us-east-1:111122223333:jobs",
    "arn:aws:sqs:us-east-1:111122223333:jobs-dlq",
)
ACTION_PATTERNS = (
    *ACTIONS,
    "S3:getobject",
    "SQS:SENDMESSAGE",
    "s3:*",
    "s3:Get*",
    "s3:Put?bject",
    "sqs:?eceiveMessage",
    "sqs:*Message",
    "*",
)
RESOURCE_PATTERNS = (
    *RESOURCES,
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::b?cket/*",
    "arn:aws:s3:::*",
    "arn:aws:S3:::bucket",  # case differs: matches nothing
    "arn:aws:sqs:*:111122223333:jobs*",
    "*",
)
# The request context every example uses; conditions test it for "blue" (true) or "red" (false).
CONTEXT = {"team": ("blue",)}


@cache
def wildcard(pattern: str, value: str) -> bool:
    """Reference matcher: ``*`` any run, ``?`` one character, everything else literal."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return wildcard(rest, value) or (bool(value) and wildcard(pattern, value[1:]))
    if not value:
        return False
    return (head == "?" or head == value[0]) and wildcard(rest, value[1:])


def action_covered(stmt: dict[str, Any], action: str) -> bool:
    patterns = stmt.get("Action", stmt.get("NotAction"))
    hit = any(wildcard(p.lower(), action.lower()) for p in patterns)
    return hit if "Action" in stmt else not hit


def condition_true(stmt: dict[str, Any]) -> bool:
    wanted = stmt.get("Condition", {}).get("StringEquals", {}).get("team")
    return wanted is None or wanted == "blue"


def covers(stmt: dict[str, Any]) -> set[tuple[str, str]]:
    if not condition_true(stmt):
        return set()
    patterns = stmt.get("Resource", stmt.get("NotResource"))
    out = set()
    for action in ACTIONS:
        if not action_covered(stmt, action):
            continue
        for resource in RESOURCES:
            hit = any(wildcard(p, resource) for p in patterns)
            if hit if "Resource" in stmt else not hit:
                out.add((action, resource))
    return out


def _statement(drawn: dict[str, Any]) -> dict[str, Any]:
    (action_element, actions), (resource_element, resources) = drawn["actions"], drawn["resources"]
    stmt: dict[str, Any] = {
        "Effect": drawn["Effect"],
        action_element: actions,
        resource_element: resources,
    }
    if drawn["team"] is not None:
        stmt["Condition"] = {"StringEquals": {"team": drawn["team"]}}
    return stmt


statements = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "actions": st.tuples(
            st.sampled_from(["Action", "NotAction"]),
            st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3),
        ),
        "resources": st.tuples(
            st.sampled_from(["Resource", "NotResource"]),
            st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3),
        ),
        "team": st.sampled_from([None, "blue", "red"]),
    }
).map(_statement)


documents = st.lists(statements, min_size=0, max_size=5)


def reference(
    identity: list[list[dict[str, Any]]], boundary: list[dict[str, Any]] | None
) -> dict[tuple[str, str], str]:
    everything = [stmt for doc in identity for stmt in doc] + (boundary or [])
    denied = set().union(*(covers(s) for s in everything if s["Effect"] == "Deny"))
    allowed = set().union(*(covers(s) for doc in identity for s in doc if s["Effect"] == "Allow"))
    if boundary is not None:
        allowed &= set().union(*(covers(s) for s in boundary if s["Effect"] == "Allow"))
    return {
        (a, r): "explicit_deny"
        if (a, r) in denied
        else "allow"
        if (a, r) in allowed
        else "implicit_deny"
        for a in ACTIONS
        for r in RESOURCES
    }


def parse(docs: list[list[dict[str, Any]]]) -> list[Policy]:
    return [parse_policy({"Statement": doc}, name=f"p{i}") for i, doc in enumerate(docs)]


@settings(max_examples=300, deadline=None)
@given(
    identity=st.lists(documents, min_size=1, max_size=3),
    boundary=st.none() | documents,
)
def test_evaluator_agrees_with_brute_force_reference(
    identity: list[list[dict[str, Any]]], boundary: list[dict[str, Any]] | None
) -> None:
    policies = parse(identity)
    cap = (
        None
        if boundary is None
        else parse_policy({"Statement": boundary}, name="cap", kind="boundary")
    )
    expected = reference(identity, boundary)
    for (action, resource), effect in expected.items():
        request = Request(action, resource, CONTEXT, context_complete=True)
        decision = evaluate(request, policies, boundary=cap)
        assert (decision.effect, decision.allowed, decision.conditional) == (
            effect,
            effect == "allow",
            False,
        ), (action, resource, decision)
        # Case never matters for actions: the same decision for a shouted action name.
        shouted = Request(action.upper(), resource, CONTEXT, context_complete=True)
        assert evaluate(shouted, policies, boundary=cap).effect == effect


def unknown_resource_applies(stmt: dict[str, Any], action: str) -> bool | None:
    """Reference for resource "*": Resource needs a "*" pattern; NotResource may apply."""
    if not condition_true(stmt) or not action_covered(stmt, action):
        return False
    if "Resource" in stmt:
        return "*" in stmt["Resource"]
    return None if "*" not in stmt["NotResource"] else False


@settings(max_examples=300, deadline=None)
@given(
    identity=st.lists(documents, min_size=1, max_size=3),
    boundary=st.none() | documents,
)
def test_unknown_resource_agrees_with_reference(
    identity: list[list[dict[str, Any]]], boundary: list[dict[str, Any]] | None
) -> None:
    policies = parse(identity)
    cap = (
        None
        if boundary is None
        else parse_policy({"Statement": boundary}, name="cap", kind="boundary")
    )
    everything = [stmt for doc in identity for stmt in doc] + (boundary or [])
    for action in ACTIONS:
        decision = evaluate(
            Request(action, "*", CONTEXT, context_complete=True), policies, boundary=cap
        )

        def states(stmts: list[dict[str, Any]], effect: str, action: str = action) -> set[Any]:
            return {unknown_resource_applies(s, action) for s in stmts if s["Effect"] == effect}

        denies = states(everything, "Deny")
        allows = states([s for doc in identity for s in doc], "Allow")
        capped = states(boundary, "Allow") if boundary is not None else {True}
        if True in denies:
            assert decision.effect == "explicit_deny"
        elif not allows - {False} or not capped - {False}:
            assert (decision.effect, decision.conditional) == ("implicit_deny", False)
        else:
            conditional = True not in allows or True not in capped or None in denies
            assert (decision.effect, decision.conditional) == ("allow", conditional), decision
            assert decision.unknown_keys == (("resource",) if conditional else ())


# Contexts that settle the "team" conditions true, false, or leave them unknown (and absent).
CONTEXTS = (({"team": ("blue",)}, True), ({"team": ("red",)}, True), ({}, False), ({}, True))


@settings(max_examples=200, deadline=None)
@given(
    identity=st.lists(documents, min_size=1, max_size=3),
    boundary=st.none() | documents,
    order=st.permutations(
        [(a, r, c) for a in ACTIONS for r in (*RESOURCES, "*") for c in range(len(CONTEXTS))]),
)
def test_one_evaluator_for_many_requests_decides_as_a_fresh_one(
    identity: list[list[dict[str, Any]]], boundary: list[dict[str, Any]] | None,
    order: list[tuple[str, str, int]],
) -> None:
    """The proof asks one ``Evaluator`` about every resource a role touched, in any order: what
    it keeps between requests (per action and context) never changes a decision, to the
    statements named and the keys left unknown."""
    policies = parse(identity)
    cap = (
        None
        if boundary is None
        else parse_policy({"Statement": boundary}, name="cap", kind="boundary")
    )
    shared = Evaluator(policies, boundary=cap)
    for action, resource, which in order:
        context, complete = CONTEXTS[which]
        request = Request(action, resource, context, context_complete=complete)
        fresh = Evaluator(policies, boundary=cap).evaluate(request)
        assert shared.evaluate(request) == fresh, (action, resource, context, complete)
        elsewhere = Request(action, "arn:aws:s3:::elsewhere", context, context_complete=complete)
        assert shared.evaluate_on(elsewhere, resource) == fresh, (action, resource, context)
