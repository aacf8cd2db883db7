"""The decision: explicit deny, Not* elements, matching rules, boundaries, conditional answers."""

from __future__ import annotations

from typing import Any

import pytest

from rightsizer.iam.evaluate import Decision, Request, evaluate
from rightsizer.iam.policy import Policy, parse_policy

BUCKET = "arn:aws:s3:::bucket"
OBJECT = "arn:aws:s3:::bucket/key"
QUEUE = "arn:aws:sqs:us-east-1:111122223333:jobs"


def policy(*statements: dict[str, Any], name: str = "app", kind: Any = "inline") -> Policy:
    return parse_policy(
        {"Version": "2012-10-17", "Statement": list(statements)}, name=name, kind=kind
    )


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(req: Request, *policies: Policy, boundary: Policy | None = None) -> Decision:
    return evaluate(req, list(policies), boundary=boundary)


# --- allow, implicit deny, explicit deny -------------------------------------------------------


def test_allow_names_the_statement() -> None:
    d = decide(Request("s3:GetObject", OBJECT), policy(allow("s3:GetObject", OBJECT, Sid="Read")))
    assert d == Decision(True, "allow", False, ('inline:app#0 (Sid "Read")',), ())


def test_nothing_allows_is_an_implicit_deny() -> None:
    d = decide(Request("s3:PutObject", OBJECT), policy(allow("s3:GetObject", OBJECT)))
    assert d == Decision(False, "implicit_deny", False, (), ())
    assert decide(Request("s3:GetObject", OBJECT)).effect == "implicit_deny"


def test_explicit_deny_wins_over_any_allow() -> None:
    p1 = policy(allow("s3:*"), name="wide")
    p2 = policy(allow("s3:GetObject", OBJECT), deny("s3:Get*", "arn:aws:s3:::bucket/*"), name="x")
    d = decide(Request("s3:GetObject", OBJECT), p1, p2)
    assert d == Decision(False, "explicit_deny", False, ("inline:x#1",), ())


def test_every_definite_deny_is_named() -> None:
    p = policy(deny("s3:*"), allow("*"), deny("*", OBJECT, Sid="NoKey"))
    d = decide(Request("s3:GetObject", OBJECT), p)
    assert d.decided_by == ("inline:app#0", 'inline:app#2 (Sid "NoKey")')


def test_several_allows_are_all_named_in_policy_order() -> None:
    d = decide(
        Request("s3:GetObject", OBJECT),
        policy(allow("s3:Get*"), name="a"),
        policy(allow("s3:PutObject"), allow("*", OBJECT), name="b", kind="managed"),
    )
    assert d.decided_by == ("inline:a#0", "managed:b#1")


# --- matching rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        ("s3:GetObject", "S3:GETOBJECT", True),  # actions: case-insensitive
        ("S3:getobject", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObjectAcl", True),
        ("s3:*Object", "s3:PutObject", True),
        ("s3:*", "sqs:SendMessage", False),
        ("*", "sqs:SendMessage", True),
        ("sqs:?eceiveMessage", "sqs:ReceiveMessage", True),  # ? is exactly one character
        ("sqs:?eceiveMessage", "sqs:eceiveMessage", False),
        ("sqs:??eceiveMessage", "sqs:ReceiveMessage", False),
        ("s3:Get", "s3:GetObject", False),  # whole-name match, not prefix
    ],
)
def test_action_patterns(pattern: str, action: str, allowed: bool) -> None:
    assert decide(Request(action, OBJECT), policy(allow(pattern))).allowed is allowed


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        ("arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket/key", True),
        ("arn:aws:s3:::bucket/KEY", "arn:aws:s3:::bucket/key", False),  # ARNs: case-sensitive
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key", False),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/key", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
        ("arn:aws:s3:::b?cket/*", "arn:aws:s3:::bucket/key", True),
        ("arn:aws:s3:::b?cket/*", "arn:aws:s3:::bcket/key", False),
        ("arn:aws:sqs:*:111122223333:*", QUEUE, True),
        ("arn:aws:sqs:*", QUEUE, True),  # resource wildcards cross colons
        ("*", QUEUE, True),
    ],
)
def test_resource_patterns(pattern: str, resource: str, allowed: bool) -> None:
    assert decide(Request("s3:GetObject", resource), policy(allow("*", pattern))).allowed is allowed


def test_not_action_allows_everything_else_within_its_resource() -> None:
    p = policy({"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": OBJECT})
    assert decide(Request("s3:GetObject", OBJECT), p).allowed
    assert decide(Request("sqs:SendMessage", OBJECT), p).allowed
    assert not decide(Request("s3:DeleteObject", OBJECT), p).allowed
    assert not decide(Request("IAM:PassRole", OBJECT), p).allowed
    assert not decide(Request("s3:GetObject", BUCKET), p).allowed  # outside its Resource


def test_not_resource_allows_everything_else() -> None:
    p = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert decide(Request("s3:GetObject", OBJECT), p).allowed
    assert not decide(Request("s3:GetObject", "arn:aws:s3:::secret/k"), p).allowed


def test_deny_with_not_action_and_not_resource() -> None:
    p = policy(
        allow("*"),
        {"Effect": "Deny", "NotAction": "s3:GetObject", "NotResource": "arn:aws:s3:::public/*"},
    )
    assert decide(Request("s3:GetObject", OBJECT), p).effect == "allow"
    assert decide(Request("s3:PutObject", OBJECT), p).effect == "explicit_deny"
    assert decide(Request("s3:PutObject", "arn:aws:s3:::public/x"), p).effect == "allow"


# --- the unknown resource "*" ----------------------------------------------------------------


def test_unknown_resource_matches_only_a_star_resource() -> None:
    specific = policy(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"))
    star = policy(allow("s3:ListAllMyBuckets", ["arn:aws:s3:::x", "*"]))
    assert not decide(Request("s3:ListAllMyBuckets"), specific).allowed
    assert decide(Request("s3:ListAllMyBuckets"), star) == Decision(
        True, "allow", False, ("inline:app#0",), ()
    )


def test_unknown_resource_with_not_resource_allow_is_conditional() -> None:
    p = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    d = decide(Request("s3:ListAllMyBuckets"), p)
    assert d == Decision(True, "allow", True, ("inline:app#0",), ("resource",))


def test_unknown_resource_with_not_resource_deny_makes_the_allow_conditional() -> None:
    p = policy(allow("*"), {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::ok/*"})
    d = decide(Request("s3:ListAllMyBuckets"), p)
    assert d == Decision(True, "allow", True, ("inline:app#0", "inline:app#1"), ("resource",))


def test_not_resource_star_never_matches() -> None:
    p = policy({"Effect": "Allow", "Action": "*", "NotResource": "*"})
    assert decide(Request("s3:ListAllMyBuckets"), p).effect == "implicit_deny"
    assert decide(Request("s3:GetObject", OBJECT), p).effect == "implicit_deny"


# --- permissions boundary ----------------------------------------------------------------------


def test_boundary_allowing_less_caps_the_identity_policy() -> None:
    identity = policy(allow("s3:*"))
    cap = policy(allow("s3:Get*", "arn:aws:s3:::bucket/*"), name="cap", kind="boundary")
    assert decide(Request("s3:GetObject", OBJECT), identity, boundary=cap) == Decision(
        True, "allow", False, ("inline:app#0", "boundary:cap#0"), ()
    )
    assert decide(Request("s3:PutObject", OBJECT), identity, boundary=cap) == Decision(
        False, "implicit_deny", False, ("boundary cap: no statement allows",), ()
    )


def test_boundary_alone_grants_nothing() -> None:
    cap = policy(allow("*"), name="cap", kind="boundary")
    d = decide(Request("s3:GetObject", OBJECT), policy(allow("sqs:*")), boundary=cap)
    assert d == Decision(False, "implicit_deny", False, (), ())


def test_boundary_deny_is_an_explicit_deny() -> None:
    cap = policy(allow("*"), deny("s3:Delete*"), name="cap", kind="boundary")
    d = decide(Request("s3:DeleteObject", OBJECT), policy(allow("*")), boundary=cap)
    assert d == Decision(False, "explicit_deny", False, ("boundary:cap#1",), ())


def test_conditional_boundary_makes_the_allow_conditional() -> None:
    cap = policy(
        allow("*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        name="cap",
        kind="boundary",
    )
    d = decide(Request("s3:GetObject", OBJECT), policy(allow("s3:*")), boundary=cap)
    assert d == Decision(
        True, "allow", True, ("inline:app#0", "boundary:cap#0"), ("aws:RequestedRegion",)
    )
    known = Request("s3:GetObject", OBJECT, {"aws:RequestedRegion": ("us-east-1",)})
    assert decide(known, policy(allow("s3:*")), boundary=cap).effect == "implicit_deny"


# --- conditions and conditional answers --------------------------------------------------------

TLS = {"Bool": {"aws:SecureTransport": "true"}}
VPCE = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}


def test_conditional_allow_names_the_statement_and_the_unknown_key() -> None:
    d = decide(Request("s3:GetObject", OBJECT), policy(allow("s3:*", Condition=VPCE, Sid="Vpce")))
    assert d == Decision(True, "allow", True, ('inline:app#0 (Sid "Vpce")',), ("aws:SourceVpce",))


def test_known_condition_keys_decide_definitely() -> None:
    p = policy(allow("s3:*", Condition=VPCE))
    yes = Request("s3:GetObject", OBJECT, {"AWS:SourceVpce": ("vpce-1",)})
    no = Request("s3:GetObject", OBJECT, {"aws:sourcevpce": ("vpce-2",)})
    assert decide(yes, p) == Decision(True, "allow", False, ("inline:app#0",), ())
    assert decide(no, p) == Decision(False, "implicit_deny", False, (), ())


def test_complete_context_makes_missing_keys_absent() -> None:
    p = policy(allow("s3:*", Condition=VPCE))
    assert decide(Request("s3:GetObject", OBJECT, context_complete=True), p).effect == (
        "implicit_deny"
    )


def test_definite_allow_hides_unknown_ones() -> None:
    p = policy(allow("s3:*", Condition=VPCE), allow("s3:GetObject", OBJECT))
    d = decide(Request("s3:GetObject", OBJECT), p)
    assert d == Decision(True, "allow", False, ("inline:app#1",), ())


def test_one_false_condition_settles_a_statement_whatever_else_is_unknown() -> None:
    cond = {**VPCE, "Bool": {"aws:SecureTransport": "true"}}
    req = Request("s3:GetObject", OBJECT, {"aws:SecureTransport": ("false",)})
    assert decide(req, policy(allow("s3:*", Condition=cond))).effect == "implicit_deny"


def test_conditional_deny_makes_an_allow_conditional() -> None:
    p = policy(
        allow("s3:*"),
        deny("s3:*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, Sid="OnlyVpce"),
    )
    d = decide(Request("s3:GetObject", OBJECT), p)
    assert d == Decision(
        True, "allow", True, ("inline:app#0", 'inline:app#1 (Sid "OnlyVpce")'), ("aws:SourceVpce",)
    )
    inside = Request("s3:GetObject", OBJECT, {"aws:SourceVpce": ("vpce-1",)})
    outside = Request("s3:GetObject", OBJECT, {"aws:SourceVpce": ("vpce-9",)})
    assert decide(inside, p) == Decision(True, "allow", False, ("inline:app#0",), ())
    assert decide(outside, p).effect == "explicit_deny"


def test_conditional_deny_and_conditional_allow_collect_all_unknown_keys() -> None:
    p = policy(
        allow("s3:*", Condition=TLS),
        deny("s3:*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}),
    )
    d = decide(Request("s3:GetObject", OBJECT), p)
    assert d.conditional and d.allowed
    assert d.unknown_keys == ("aws:SecureTransport", "aws:SourceVpce")


def test_conditional_deny_over_nothing_is_still_an_implicit_deny() -> None:
    p = policy(deny("s3:*", Condition=VPCE))
    assert decide(Request("s3:GetObject", OBJECT), p) == Decision(
        False, "implicit_deny", False, (), ()
    )


def test_policy_variable_in_resource() -> None:
    p = policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    bob = Request("s3:GetObject", "arn:aws:s3:::home/bob/x", {"aws:username": ("bob",)})
    eve = Request("s3:GetObject", "arn:aws:s3:::home/bob/x", {"aws:username": ("eve",)})
    unknown = Request("s3:GetObject", "arn:aws:s3:::home/bob/x")
    assert decide(bob, p).effect == "allow" and not decide(bob, p).conditional
    assert decide(eve, p).effect == "implicit_deny"
    assert decide(unknown, p) == Decision(True, "allow", True, ("inline:app#0",), ("aws:username",))


def test_unknown_operator_is_conditional_even_with_a_complete_context() -> None:
    p = policy(allow("s3:*", Condition={"StringEqualz": {"k": "v"}}))
    d = decide(Request("s3:GetObject", OBJECT, {"k": ("v",)}, context_complete=True), p)
    assert d == Decision(True, "allow", True, ("inline:app#0",), ("k",))


def test_request_is_hashable_and_keys_compare_case_insensitively() -> None:
    a = Request("s3:GetObject", OBJECT, {"AWS:SourceVpce": ("vpce-1",)})
    b = Request("s3:GetObject", OBJECT, {"aws:sourcevpce": ("vpce-1",)})
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(TypeError):
        a.context["x"] = ("y",)  # type: ignore[index]
