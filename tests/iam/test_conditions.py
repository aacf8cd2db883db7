"""Condition operators, three-valued: one table row per behaviour the IAM User Guide documents."""

from __future__ import annotations

import pytest

from rightsizer.iam.conditions import (
    condition_keys,
    evaluate_normalized,
    is_known_operator,
    normalize_context,
    resolve_variables,
    unknown_keys,
)
from rightsizer.iam.policy import Condition

Ctx = dict[str, tuple[str, ...]]
ROLE = "arn:aws:iam::111122223333:role/app"
IP = "aws:SourceIp"
SRC = "aws:SourceArn"
ENV = "aws:ResourceTag/Env"

# (operator, key, policy values, request context, complete, expected)
# fmt: off
ROWS: list[tuple[str, str, tuple[str, ...], Ctx, bool, bool | None]] = [
    # --- String: exact, case-sensitive; IgnoreCase; Like with * and ?
    ("StringEquals", "aws:SourceAccount", ("111",), {"aws:SourceAccount": ("111",)}, True, True),
    ("StringEquals", "aws:SourceAccount", ("111",), {"aws:SourceAccount": ("222",)}, True, False),
    ("StringEquals", "k", ("Prod",), {"k": ("prod",)}, True, False),
    ("StringEquals", "k", ("a", "b"), {"k": ("b",)}, True, True),  # values OR
    ("StringEquals", "k", ("a*",), {"k": ("abc",)}, True, False),  # no wildcards in Equals
    ("StringEqualsIgnoreCase", "k", ("Prod",), {"k": ("PROD",)}, True, True),
    ("StringNotEqualsIgnoreCase", "k", ("Prod",), {"k": ("PROD",)}, True, False),
    ("StringLike", "s3:prefix", ("home/*",), {"s3:prefix": ("home/a/b",)}, True, True),
    ("StringLike", "s3:prefix", ("home/?",), {"s3:prefix": ("home/ab",)}, True, False),
    ("StringLike", "s3:prefix", ("home/??",), {"s3:prefix": ("home/ab",)}, True, True),
    ("StringLike", "k", ("Home/*",), {"k": ("home/x",)}, True, False),  # case-sensitive
    # --- negated: true only when the request value matches none of the policy values (NOR)
    ("StringNotEquals", "k", ("a", "b"), {"k": ("c",)}, True, True),
    ("StringNotEquals", "k", ("a", "b"), {"k": ("b",)}, True, False),
    ("StringNotLike", "k", ("x*", "y*"), {"k": ("yes",)}, True, False),
    ("StringNotLike", "k", ("x*", "y*"), {"k": ("no",)}, True, True),
    # --- key names compare case-insensitively, whole key incl. tag part
    ("StringEquals", ENV, ("prod",), {"AWS:RESOURCETAG/env": ("prod",)}, True, True),
    ("StringEquals", ENV, ("prod",), {"aws:ResourceTag/Team": ("prod",)}, True, False),
    # --- absent key, complete context: plain false, negated true, IfExists true
    ("StringEquals", "k", ("a",), {}, True, False),
    ("StringLike", "k", ("*",), {}, True, False),
    ("StringNotEquals", "k", ("a",), {}, True, True),
    ("StringNotLike", "k", ("a",), {}, True, True),
    ("ArnNotLike", SRC, (ROLE,), {}, True, True),
    ("NotIpAddress", IP, ("10.0.0.0/8",), {}, True, True),
    ("NumericLessThan", "k", ("1",), {}, True, False),
    ("StringEqualsIfExists", "k", ("a",), {}, True, True),
    ("StringEqualsIfExists", "k", ("a",), {"k": ("a",)}, True, True),
    ("StringEqualsIfExists", "k", ("a",), {"k": ("b",)}, True, False),  # present: checked
    ("StringNotEqualsIfExists", "k", ("a",), {"k": ("a",)}, True, False),
    ("ArnLikeIfExists", SRC, (ROLE,), {}, True, True),
    ("StringEquals", "k", ("a",), {"k": ()}, False, False),  # empty tuple: known absent
    # --- absent key, incomplete context: unknown, whatever the operator
    ("StringEquals", "k", ("a",), {}, False, None),
    ("StringNotEquals", "k", ("a",), {}, False, None),
    ("StringEqualsIfExists", "k", ("a",), {}, False, None),
    ("Null", "k", ("true",), {}, False, None),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("a",), {}, False, None),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("a",), {}, False, None),
    ("StringEquals", "k", ("a",), {"k": ("a",)}, False, True),  # present: decided
    # --- Null
    ("Null", "aws:TokenIssueTime", ("true",), {}, True, True),
    ("Null", "aws:TokenIssueTime", ("true",), {"aws:TokenIssueTime": ("x",)}, True, False),
    ("Null", "aws:TokenIssueTime", ("false",), {}, True, False),
    ("Null", "aws:TokenIssueTime", ("false",), {"aws:TokenIssueTime": ("x",)}, True, True),
    ("Null", "k", ("TRUE",), {"k": ()}, False, True),
    # --- Numeric (integers and decimals)
    ("NumericEquals", "s3:max-keys", ("10",), {"s3:max-keys": ("10.0",)}, True, True),
    ("NumericNotEquals", "s3:max-keys", ("10",), {"s3:max-keys": ("11",)}, True, True),
    ("NumericNotEquals", "s3:max-keys", ("10", "11"), {"s3:max-keys": ("11",)}, True, False),
    ("NumericLessThan", "n", ("10",), {"n": ("9.5",)}, True, True),
    ("NumericLessThan", "n", ("10",), {"n": ("10",)}, True, False),
    ("NumericLessThanEquals", "n", ("10",), {"n": ("10",)}, True, True),
    ("NumericGreaterThan", "n", ("10",), {"n": ("10",)}, True, False),
    ("NumericGreaterThan", "n", ("-1",), {"n": ("0",)}, True, True),
    ("NumericGreaterThanEquals", "n", ("10",), {"n": ("10",)}, True, True),
    ("NumericEquals", "n", ("ten",), {"n": ("10",)}, True, False),  # unparseable: no match
    ("NumericEquals", "n", ("10",), {"n": ("NaN",)}, True, False),
    ("NumericNotEquals", "n", ("10",), {"n": ("x",)}, True, True),
    # --- Date: ISO 8601 dates and datetimes, epoch seconds
    ("DateLessThan", "aws:CurrentTime", ("2020-01-01T00:00:00Z",),
     {"aws:CurrentTime": ("2019-12-31T23:59:59Z",)}, True, True),
    ("DateLessThan", "aws:CurrentTime", ("2020-01-01",),
     {"aws:CurrentTime": ("2020-01-01T00:00:00Z",)}, True, False),
    ("DateLessThanEquals", "aws:CurrentTime", ("2020-01-01",),
     {"aws:CurrentTime": ("2020-01-01T00:00:00+00:00",)}, True, True),
    ("DateGreaterThan", "aws:CurrentTime", ("2020-01-01T00:00:00Z",),
     {"aws:CurrentTime": ("2020-01-01T01:00:00+02:00",)}, True, False),  # 23:00 UTC the day before
    ("DateGreaterThanEquals", "aws:EpochTime", ("1577836800",),
     {"aws:EpochTime": ("2020-01-01T00:00:00Z",)}, True, True),
    ("DateEquals", "aws:CurrentTime", ("1577836800",),
     {"aws:CurrentTime": ("2020-01-01T00:00:00.000Z",)}, True, True),
    ("DateNotEquals", "aws:CurrentTime", ("1577836800",),
     {"aws:CurrentTime": ("2020-01-01T00:00:01Z",)}, True, True),
    ("DateGreaterThan", "aws:TokenIssueTime", ("2020-06-01T12:00:00Z",),
     {"aws:TokenIssueTime": ("1591012800.5",)}, True, True),
    ("DateEquals", "d", ("yesterday",), {"d": ("2020-01-01",)}, True, False),
    # --- Bool, BinaryEquals
    ("Bool", "aws:SecureTransport", ("true",), {"aws:SecureTransport": ("true",)}, True, True),
    ("Bool", "aws:SecureTransport", ("false",), {"aws:SecureTransport": ("true",)}, True, False),
    ("Bool", "aws:SecureTransport", ("True",), {"aws:SecureTransport": ("true",)}, True, True),
    ("Bool", "aws:SecureTransport", ("false",), {}, True, False),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", ("false",), {}, True, True),
    ("BinaryEquals", "k", ("QmluYXJ5VmFsdWU=",), {"k": ("QmluYXJ5VmFsdWU=",)}, True, True),
    ("BinaryEquals", "k", ("QmluYXJ5VmFsdWU=",), {"k": ("qmluyxj5vmfsdwu=",)}, True, False),
    # --- IpAddress / NotIpAddress, IPv4 and IPv6
    ("IpAddress", IP, ("203.0.113.0/24",), {IP: ("203.0.113.9",)}, True, True),
    ("IpAddress", IP, ("203.0.113.0/24",), {IP: ("203.0.114.9",)}, True, False),
    ("IpAddress", IP, ("203.0.113.9",), {IP: ("203.0.113.9",)}, True, True),
    ("IpAddress", IP, ("203.0.113.1/24",), {IP: ("203.0.113.200",)}, True, True),
    ("IpAddress", IP, ("2001:db8::/32",), {IP: ("2001:db8:1::5",)}, True, True),
    ("IpAddress", IP, ("2001:db8::/32",), {IP: ("2001:db9::5",)}, True, False),
    ("IpAddress", IP, ("10.0.0.0/8",), {IP: ("::ffff:1.2.3.4",)}, True, False),
    ("IpAddress", IP, ("10.0.0.0/8", "2001:db8::/32"),
     {IP: ("2001:db8::1",)}, True, True),
    ("NotIpAddress", IP, ("10.0.0.0/8", "192.168.0.0/16"),
     {IP: ("192.168.1.1",)}, True, False),
    ("NotIpAddress", IP, ("10.0.0.0/8",), {IP: ("8.8.8.8",)}, True, True),
    ("IpAddress", IP, ("10.0.0.0/8",), {IP: ("vpc",)}, True, False),
    # --- ARN operators: six fields, wildcards per field, case-sensitive; Equals == Like
    ("ArnEquals", SRC, (ROLE,), {SRC: (ROLE,)}, True, True),
    ("ArnLike", SRC, ("arn:aws:iam::*:role/*",), {SRC: (ROLE,)}, True, True),
    ("ArnEquals", SRC, ("arn:aws:iam::*:role/*",), {SRC: (ROLE,)}, True, True),
    ("ArnLike", SRC, ("arn:aws:iam::*:role/APP",), {SRC: (ROLE,)}, True, False),
    ("ArnLike", SRC, ("arn:aws:iam::1111?2223333:role/app",),
     {SRC: (ROLE,)}, True, True),
    # a field wildcard cannot swallow a colon: account "1:2" is two fields
    ("ArnLike", SRC, ("arn:aws:iam::*:role/app",),
     {SRC: ("arn:aws:iam::1:2:role/app",)}, True, False),
    # ...but the resource field may contain colons
    ("ArnLike", SRC, ("arn:aws:logs:*:*:log-group:*",),
     {SRC: ("arn:aws:logs:us-east-1:1:log-group:/ecs/app:log-stream:x",)}, True, True),
    ("ArnLike", SRC, ("*",), {SRC: (ROLE,)}, True, True),
    ("ArnLike", SRC, ("arn:aws:iam::*:role/app",), {SRC: ("role/app",)},
     True, False),
    ("ArnNotLike", SRC, ("arn:aws:iam::*:role/admin*",), {SRC: (ROLE,)},
     True, True),
    ("ArnNotEquals", SRC, (ROLE,), {SRC: (ROLE,)}, True, False),
    # --- ForAnyValue / ForAllValues
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("Owner", "Env"), {"aws:TagKeys": ("Dept", "Env")},
     True, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("Owner",), {"aws:TagKeys": ("Dept", "Env")},
     True, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("Owner",), {}, True, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("Owner",), {"aws:TagKeys": ()}, True, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("Owner", "Env"), {"aws:TagKeys": ("Env",)},
     True, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("Owner", "Env"),
     {"aws:TagKeys": ("Env", "Dept")}, True, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("Owner",), {}, True, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("Owner",), {"aws:TagKeys": ()}, False, True),
    ("ForAllValues:StringLike", "aws:TagKeys", ("Created*",),
     {"aws:TagKeys": ("CreatedBy", "CreatedAt")}, True, True),
    # the guide's table: ForAllValues:StringNotLike {"aws:TagKeys": "key1*"}
    ("ForAllValues:StringNotLike", "aws:TagKeys", ("key1*",), {"aws:TagKeys": ("key1:legal",)},
     True, False),
    ("ForAllValues:StringNotLike", "aws:TagKeys", ("key1*",),
     {"aws:TagKeys": ("key1:hr", "key1:personnel")}, True, False),
    ("ForAllValues:StringNotLike", "aws:TagKeys", ("key1*",), {"aws:TagKeys": ("key2:audit",)},
     True, True),
    ("ForAllValues:StringNotLike", "aws:TagKeys", ("key1*",), {}, True, True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ("a", "b"), {"aws:TagKeys": ("a", "c")},
     True, True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ("a", "b"), {"aws:TagKeys": ("a", "b")},
     True, False),
    # set qualifier + IfExists: IfExists does not rescue ForAnyValue on an absent key
    ("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ("team",), {}, True, False),
    ("ForAllValues:StringEqualsIfExists", "aws:TagKeys", ("team",), {}, True, True),
    ("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ("team",), {"aws:TagKeys": ("team",)},
     True, True),
    # --- policy variables
    ("StringLike", "s3:prefix", ("home/${aws:username}/*",),
     {"s3:prefix": ("home/bob/x",), "aws:username": ("bob",)}, True, True),
    ("StringLike", "s3:prefix", ("home/${aws:username}/*",),
     {"s3:prefix": ("home/eve/x",), "aws:username": ("bob",)}, True, False),
    ("StringLike", "s3:prefix", ("home/${aws:username}/*",), {"s3:prefix": ("home/bob/x",)},
     False, None),
    ("StringLike", "s3:prefix", ("home/${aws:username}/*",), {"s3:prefix": ("home/bob/x",)},
     True, False),
    ("StringLike", "s3:prefix", ("home/${aws:username}/*", "public/*"),
     {"s3:prefix": ("public/x",)}, True, True),
    ("StringNotLike", "s3:prefix", ("home/${aws:username}/*",), {"s3:prefix": ("home/bob/x",)},
     True, True),  # unresolvable value matches nothing, so the negation holds
    ("StringEquals", "aws:ResourceTag/team", ("${aws:PrincipalTag/team}",),
     {"aws:ResourceTag/team": ("blue",), "aws:PrincipalTag/Team": ("blue",)}, True, True),
    ("StringEquals", "aws:ResourceTag/team", ("${aws:PrincipalTag/team, 'shared'}",),
     {"aws:ResourceTag/team": ("shared",)}, True, True),
    ("StringEquals", "k", ("${aws:username}",), {"k": ("a",), "aws:username": ("a", "b")},
     True, False),  # multivalued keys cannot be variables
    ("StringEquals", "k", ("a${*}b${?}${$}",), {"k": ("a*b?$",)}, True, True),
    ("StringLike", "k", ("a${*}b",), {"k": ("axb",)}, True, False),  # escaped * is literal
    ("StringLike", "k", ("${aws:username}*",), {"k": ("a*bc",), "aws:username": ("a*b",)},
     True, True),
    ("StringLike", "k", ("${aws:username}*",), {"k": ("axbc",), "aws:username": ("a*b",)},
     True, False),  # a * from a variable is literal
    ("ArnLike", SRC, ("arn:aws:iam::${aws:PrincipalAccount}:role/*",),
     {SRC: (ROLE,), "aws:PrincipalAccount": ("111122223333",)}, True, True),
    ("NumericEquals", "n", ("${n}",), {"n": ("1",)}, True, False),  # no variables in Numeric
    # --- unknown operators are unknown, never a crash
    ("StringEqualz", "k", ("a",), {"k": ("a",)}, True, None),
    ("NullIfExists", "k", ("true",), {}, True, None),
    ("ForAnyValue:Null", "k", ("true",), {}, True, None),
    ("stringequals", "k", ("a",), {"k": ("a",)}, True, True),  # operator names: any case
]
# fmt: on


@pytest.mark.parametrize(
    ("operator", "key", "values", "context", "complete", "expected"),
    ROWS,
    ids=[f"{i}-{row[0]}" for i, row in enumerate(ROWS)],
)
def test_operator_table(
    operator: str,
    key: str,
    values: tuple[str, ...],
    context: Ctx,
    complete: bool,
    expected: bool | None,
) -> None:
    result = evaluate_normalized(Condition(operator, key, values), normalize_context(context),
                                 complete=complete)
    assert result is expected


def test_every_documented_operator_is_known_with_its_variants() -> None:
    bases = [
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
        "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
        "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
        "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
        "ArnLike", "ArnNotEquals", "ArnNotLike",
    ]  # fmt: skip
    for base in bases:
        for prefix in ("", "ForAllValues:", "ForAnyValue:"):
            for suffix in ("", "IfExists"):
                assert is_known_operator(f"{prefix}{base}{suffix}"), f"{prefix}{base}{suffix}"
    assert is_known_operator("Null")
    assert not is_known_operator("NullIfExists")
    assert not is_known_operator("StringMatches")


def test_context_keys_are_normalized_and_merged() -> None:
    assert normalize_context({"AWS:SourceIp": "1.2.3.4", "aws:sourceip": ["5.6.7.8"]}) == {
        "aws:sourceip": ("1.2.3.4", "5.6.7.8")
    }


@pytest.mark.parametrize(
    ("value", "context", "complete", "expected"),
    [
        ("plain", {}, True, (("plain", False),)),
        ("a/${aws:username}/*", {"aws:username": ("bob",)}, True,
         (("a/", False), ("bob", True), ("/*", False))),
        ("${aws:username}", {}, False, "unknown"),
        ("${aws:username}", {}, True, "absent"),
        ("${aws:username}", {"aws:username": ()}, False, "absent"),
        ("${aws:username, 'nobody'}", {}, True, (("nobody", True),)),
        ("${*}${?}${$}", {}, True, (("*", True), ("?", True), ("$", True))),
        ("${not a variable}", {}, True, (("${not a variable}", True),)),
    ],
)  # fmt: skip
def test_resolve_variables(value: str, context: Ctx, complete: bool, expected: object) -> None:
    assert resolve_variables(value, normalize_context(context), complete) == expected


def test_condition_and_unknown_keys_name_variables_too() -> None:
    cond = Condition("StringLike", "s3:prefix", ("home/${aws:username}/*", "${*}"))
    assert condition_keys(cond) == ("s3:prefix", "aws:username")
    assert unknown_keys(cond, normalize_context({"s3:prefix": ("x",)})) == ("aws:username",)
    assert unknown_keys(cond, {}) == ("s3:prefix", "aws:username")
    odd = Condition("StringEqualz", "k", ("a",))
    assert unknown_keys(odd, normalize_context({"k": ("a",)})) == ("k",)
