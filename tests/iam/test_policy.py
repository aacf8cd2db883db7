"""Policy parsing: every document shape AWS tools emit, and each refusal and its message."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from rightsizer.errors import PolicyError
from rightsizer.iam.policy import Condition, Policy, Statement, parse_policy

# The trust policy of an ECS task role exactly as IAM's API returns AssumeRolePolicyDocument in
# GetRole / GetAccountAuthorizationDetails: compact JSON, RFC 3986 percent-encoded.
TRUST_ENCODED = (
    "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22%22%2C"
    "%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com"
    "%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
)
# A managed policy version as IAM stores it (whitespace as the author wrote it), percent-encoded.
MANAGED_ENCODED = (
    "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B%0A"
    "%20%20%20%20%7B%0A%20%20%20%20%20%20%22Sid%22%3A%20%22Logs%22%2C%0A%20%20%20%20%20%20"
    "%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20%20%20%22Action%22%3A%20%5B%22logs%3A"
    "CreateLogStream%22%2C%20%22logs%3APutLogEvents%22%5D%2C%0A%20%20%20%20%20%20%22Resource"
    "%22%3A%20%22arn%3Aaws%3Alogs%3A*%3A*%3Alog-group%3A%2Fecs%2Fapp%3A*%22%0A%20%20%20%20%7D"
    "%0A%20%20%5D%0A%7D"
)


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    doc: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        doc["Version"] = version
    return doc


ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def test_single_statement_object_with_string_elements() -> None:
    policy = parse_policy({"Version": "2012-10-17", "Statement": ALLOW_GET}, name="app")
    assert policy == Policy(
        name="app",
        kind="inline",
        arn=None,
        version="2012-10-17",
        statements=(
            Statement(
                policy="app",
                index=0,
                sid=None,
                effect="Allow",
                actions=("s3:GetObject",),
                not_actions=None,
                resources=("arn:aws:s3:::b/*",),
                not_resources=None,
                conditions=(),
                principals=None,
                not_principals=None,
                kind="inline",
            ),
        ),
    )


def test_statement_list_with_list_elements_keeps_order_and_indexes() -> None:
    doc = _doc(
        {
            "Sid": "A",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "*",
        },
        {"Sid": "B", "Effect": "Deny", "NotAction": ["iam:*"], "NotResource": ["arn:aws:s3:::x"]},
    )
    first, second = parse_policy(doc, name="app", kind="managed").statements
    assert (first.index, first.sid, first.actions, first.resources) == (
        0,
        "A",
        ("s3:GetObject", "s3:PutObject"),
        ("*",),
    )
    assert (second.index, second.effect, second.actions, second.not_actions) == (
        1,
        "Deny",
        None,
        ("iam:*",),
    )
    assert (second.resources, second.not_resources) == (None, ("arn:aws:s3:::x",))


def test_policy_fields_are_kept() -> None:
    policy = parse_policy(_doc(ALLOW_GET), name="p", kind="aws_managed", arn="arn:aws:iam::aws:x")
    assert (policy.name, policy.kind, policy.arn, policy.version) == (
        "p",
        "aws_managed",
        "arn:aws:iam::aws:x",
        "2012-10-17",
    )
    assert parse_policy(_doc(ALLOW_GET, version=None), name="p").version is None


@pytest.mark.parametrize(
    "document",
    [
        json.dumps(_doc(ALLOW_GET)),
        json.dumps(_doc(ALLOW_GET)).encode(),
        json.dumps(_doc(ALLOW_GET), indent=4),
        quote(json.dumps(_doc(ALLOW_GET)), safe=""),
        quote(json.dumps(_doc(ALLOW_GET), indent=2), safe="*"),
    ],
    ids=["json-text", "json-bytes", "json-indented", "url-encoded", "url-encoded-indented"],
)
def test_every_text_shape_gives_the_same_statements(document: str | bytes) -> None:
    assert parse_policy(document, name="p") == parse_policy(_doc(ALLOW_GET), name="p")


def test_url_encoded_trust_policy_from_get_role() -> None:
    policy = parse_policy(TRUST_ENCODED, name="task-role", kind="trust")
    (stmt,) = policy.statements
    assert stmt.principals == (("Service", ("ecs-tasks.amazonaws.com",)),)
    assert stmt.actions == ("sts:AssumeRole",)
    assert (stmt.resources, stmt.not_resources) == (None, None)
    assert stmt.sid == ""  # IAM console writes an empty Sid; ref leaves it out
    assert stmt.ref == "trust:task-role#0"


def test_url_encoded_managed_policy_from_authorization_details() -> None:
    (stmt,) = parse_policy(MANAGED_ENCODED, name="logs", kind="managed").statements
    assert stmt.actions == ("logs:CreateLogStream", "logs:PutLogEvents")
    assert stmt.resources == ("arn:aws:logs:*:*:log-group:/ecs/app:*",)
    assert stmt.ref == 'managed:logs#0 (Sid "Logs")'


def test_json_text_holding_percent_signs_is_not_url_decoded() -> None:
    doc = _doc({**ALLOW_GET, "Resource": "arn:aws:s3:::b/100%25/*"})
    (stmt,) = parse_policy(json.dumps(doc), name="p").statements
    assert stmt.resources == ("arn:aws:s3:::b/100%25/*",)


def test_condition_values_of_every_json_type_become_strings() -> None:
    doc = _doc(
        {
            **ALLOW_GET,
            "Condition": {
                "Bool": {"aws:SecureTransport": True, "aws:MultiFactorAuthPresent": False},
                "NumericLessThan": {"s3:max-keys": 10, "s3:other": 1.5},
                "StringEquals": {"aws:SourceAccount": ["111122223333", 444455556666]},
                "ForAnyValue:StringLike": {"aws:TagKeys": []},
            },
        }
    )
    (stmt,) = parse_policy(doc, name="p").statements
    assert stmt.conditions == (
        Condition("Bool", "aws:SecureTransport", ("true",)),
        Condition("Bool", "aws:MultiFactorAuthPresent", ("false",)),
        Condition("NumericLessThan", "s3:max-keys", ("10",)),
        Condition("NumericLessThan", "s3:other", ("1.5",)),
        Condition("StringEquals", "aws:SourceAccount", ("111122223333", "444455556666")),
        Condition("ForAnyValue:StringLike", "aws:TagKeys", ()),
    )


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", (("*", ("*",)),)),
        ({"AWS": "*"}, (("AWS", ("*",)),)),
        (
            {
                "Service": ["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"],
                "AWS": "arn:aws:iam::1:root",
            },
            (
                ("Service", ("ecs-tasks.amazonaws.com", "ec2.amazonaws.com")),
                ("AWS", ("arn:aws:iam::1:root",)),
            ),
        ),
    ],
)
def test_principal_shapes(principal: Any, expected: Any) -> None:
    stmt_doc = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    (stmt,) = parse_policy(_doc(stmt_doc), name="t", kind="trust").statements
    assert stmt.principals == expected
    assert stmt.not_principals is None


def test_not_principal_and_resource_policy_without_resource() -> None:
    stmt_doc = {"Effect": "Deny", "NotPrincipal": {"AWS": ["a", "b"]}, "Action": "s3:*"}
    (stmt,) = parse_policy(_doc(stmt_doc), name="bucket", kind="resource").statements
    assert stmt.not_principals == (("AWS", ("a", "b")),)
    assert stmt.principals is None


def test_empty_statement_list_is_a_policy_with_no_statements() -> None:
    assert parse_policy({"Statement": []}, name="p").statements == ()


def test_ref_numbers_from_zero_and_names_the_sid() -> None:
    doc = _doc(ALLOW_GET, ALLOW_GET, {**ALLOW_GET, "Sid": "S3Read"})
    refs = [s.ref for s in parse_policy(doc, name="app").statements]
    assert refs == ["inline:app#0", "inline:app#1", 'inline:app#2 (Sid "S3Read")']


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown policy kind"):
        parse_policy(_doc(ALLOW_GET), name="p", kind="scp")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "kind", "message"),
    [
        ("{not json", "inline", r"^policy bad: not JSON"),
        ("%7Bnot%20json", "inline", r"^policy bad: not JSON, even URL-decoded"),
        (b"\xff\xfe", "inline", r"^policy bad: not UTF-8 text"),
        ("[1, 2]", "inline", r"^policy bad: the document is a list, not a JSON object"),
        ('"text"', "inline", r"^policy bad: the document is a string, not a JSON object"),
        ({"Version": "2012-10-17"}, "inline", r"^policy bad: no Statement element$"),
        ({"Statement": None}, "inline", r"^policy bad: no Statement element$"),
        ({"Version": 2012, "Statement": []}, "inline", r"Version must be a string"),
        ({"Statement": ["x"]}, "inline", r"^policy bad: statement 0 is a string, not an object$"),
        (
            _doc(ALLOW_GET, {**ALLOW_GET, "Sid": "S2", "Effect": "allow"}),
            "inline",
            r'^policy bad: statement 1 \(Sid "S2"\): '
            r'Effect must be "Allow" or "Deny", got "allow"$',
        ),
        (
            _doc({"Effect": "Allow", "Resource": "*"}),
            "inline",
            r"^policy bad: statement 0: has neither Action nor NotAction$",
        ),
        (
            _doc({"Effect": "Allow", "Principal": "*"}),
            "trust",
            r"statement 0: has neither Action nor NotAction$",
        ),
        (
            _doc({**ALLOW_GET, "NotAction": "s3:PutObject"}),
            "inline",
            r"statement 0: has both Action and NotAction$",
        ),
        (
            _doc({**ALLOW_GET, "NotResource": "arn:aws:s3:::c"}),
            "inline",
            r"statement 0: has both Resource and NotResource$",
        ),
        (
            _doc({"Effect": "Allow", "Action": "s3:GetObject"}),
            "managed",
            r"statement 0: has neither Resource nor NotResource \(required in a managed policy\)$",
        ),
        (
            _doc({"Effect": "Allow", "Action": "s3:GetObject"}),
            "boundary",
            r"required in a boundary policy",
        ),
        (
            _doc({**ALLOW_GET, "Action": ["s3:GetObject", 7]}),
            "inline",
            r"statement 0: Action entry 1 is a number, not a string$",
        ),
        (_doc({**ALLOW_GET, "Action": []}), "inline", r"statement 0: Action is an empty list$"),
        (
            _doc({**ALLOW_GET, "Resource": {"a": 1}}),
            "inline",
            r"Resource must be a string or a list of strings, got an object$",
        ),
        (
            _doc({**ALLOW_GET, "Condition": ["x"]}),
            "inline",
            r"statement 0: Condition must be an object, got a list$",
        ),
        (
            _doc({**ALLOW_GET, "Condition": {"StringEquals": "x"}}),
            "inline",
            r"Condition StringEquals must map keys to values, got a string$",
        ),
        (
            _doc({**ALLOW_GET, "Condition": {"StringEquals": {"k": [{"a": 1}]}}}),
            "inline",
            r"Condition StringEquals k: a value is an object",
        ),
        (
            _doc({**ALLOW_GET, "Condition": {"Null": {"k": None}}}),
            "inline",
            r"Condition Null k: a value is null",
        ),
        (
            _doc({"Effect": "Allow", "Principal": ["x"], "Action": "sts:AssumeRole"}),
            "trust",
            r'Principal must be "\*" or an object',
        ),
        (
            _doc({"Effect": "Allow", "Principal": {"AWS": [1]}, "Action": "sts:AssumeRole"}),
            "trust",
            r"Principal AWS must be a string or a list of strings$",
        ),
        (_doc({**ALLOW_GET, "Sid": ["x"]}), "inline", r"Sid must be a string, got a list$"),
    ],
)
def test_rejections_name_the_policy_the_statement_and_the_reason(
    document: Any, kind: Any, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(document, name="bad", kind=kind)


def test_trust_and_resource_policies_may_omit_resource() -> None:
    for kind in ("trust", "resource"):
        stmt_doc = {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}
        (stmt,) = parse_policy(_doc(stmt_doc), name="t", kind=kind).statements
        assert (stmt.resources, stmt.not_resources) == (None, None)


def test_numeric_sid_is_kept_as_text() -> None:
    (stmt,) = parse_policy(_doc({**ALLOW_GET, "Sid": 1}), name="p").statements
    assert stmt.sid == "1"
