"""Invariants of resource generalization, with hypothesis.

pattern_within must never claim an inclusion that some string refutes (a proposal built on that
would be broader than its grant); generalization must keep every touched ARN allowed; clamping
must stay within the grant without losing a granted ARN.
"""

from __future__ import annotations

import itertools
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.patterns import matches, pattern_within
from rightsizer.proposal.generalize import (
    clamp_to_grant,
    explain_generalization,
    generalize_resources,
    sorted_unique,
)

PATTERNS_SMALL = st.text(alphabet="ab/*?", max_size=6)
STRINGS_SMALL = st.text(alphabet="ab/", max_size=7)


@cache
def all_strings(alphabet: str, max_len: int) -> tuple[str, ...]:
    return tuple(
        "".join(p) for n in range(max_len + 1) for p in itertools.product(alphabet, repeat=n)
    )


def language(pattern: str, strings: tuple[str, ...]) -> frozenset[str]:
    return frozenset(s for s in strings if matches(pattern, s, ignore_case=False))


@settings(max_examples=300, deadline=None)
@given(inner=PATTERNS_SMALL, outer=PATTERNS_SMALL, extra=st.lists(STRINGS_SMALL, max_size=20))
def test_pattern_within_is_sound(inner: str, outer: str, extra: list[str]) -> None:
    if not pattern_within(inner, outer):
        return
    # Every string up to length 5 over the alphabet, plus longer random candidates.
    for s in (*all_strings("ab/", 5), *extra):
        if matches(inner, s, ignore_case=False):
            assert matches(outer, s, ignore_case=False), (inner, outer, s)


@settings(max_examples=300, deadline=None)
@given(inner=st.text(alphabet="ab/*?", max_size=4), outer=st.text(alphabet="ab/*?", max_size=4))
def test_pattern_within_is_complete_on_short_patterns(inner: str, outer: str) -> None:
    # Over the literals plus one fresh letter ("z") every counterexample can be rewritten into
    # one of these; for patterns of length <= 4, strings of length <= 6 are enough (checked
    # exhaustively over all pairs when this test was written).
    strings = all_strings("ab/z", 6)
    included = language(inner, strings) <= language(outer, strings)
    assert pattern_within(inner, outer) is included


@settings(max_examples=300, deadline=None)
@given(p=PATTERNS_SMALL, q=PATTERNS_SMALL, r=PATTERNS_SMALL)
def test_pattern_within_is_a_preorder(p: str, q: str, r: str) -> None:
    assert pattern_within(p, p)
    assert pattern_within(p, "*")
    if pattern_within(p, q) and pattern_within(q, r):
        assert pattern_within(p, r)


# ---------------------------------------------------------------------------------------------
# Realistic ARNs, built from the parts that vary per task / request and the parts that name.

ACCT = "111122223333"
HEX32 = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
UUIDS = st.uuids().map(str)
DATES = st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}")
EPOCHS = st.integers(min_value=10**9, max_value=10**13 - 1).map(str)
WORDS = st.sampled_from(
    [
        "in",
        "out",
        "config",
        "reports",
        "a.json",
        "b.json",
        "c.json",
        "x",
        "data",
        "2026",
        "10",
        "31",
        "app",
        "worker",
    ]
)
SEGMENTS = st.one_of(
    WORDS,
    WORDS,
    HEX32,
    UUIDS,
    DATES,
    EPOCHS,
    st.tuples(WORDS, DATES).map(lambda t: f"{t[0]}-{t[1]}.csv"),
)
KEYS = st.lists(SEGMENTS, min_size=1, max_size=4).map("/".join)
BUCKETS = st.sampled_from(["alpha", "beta", "logs-0123456789abcdef0123456789abcdef"])
GROUPS = st.sampled_from(["/ecs/orders", "/ecs/api"])
TABLES = st.sampled_from(["orders", "customers"])


@st.composite
def arn_and_name(draw: st.DrawFn) -> tuple[str, str]:
    """(ARN, the part of it that names the resource and must survive unchanged)."""
    kind = draw(st.sampled_from(["s3", "logs", "dynamodb", "kms", "sqs"]))
    if kind == "s3":
        name = f"arn:aws:s3:::{draw(BUCKETS)}/"
        return name + draw(KEYS), name
    if kind == "logs":
        name = f"arn:aws:logs:us-east-1:{ACCT}:log-group:{draw(GROUPS)}:log-stream:"
        container = draw(st.sampled_from(["app", "envoy"]))
        return name + f"ecs/{container}/{draw(st.one_of(HEX32, UUIDS, WORDS))}", name
    if kind == "dynamodb":
        name = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/{draw(TABLES)}"
        rest = draw(
            st.one_of(
                st.just(""),
                WORDS.map(lambda w: f"/index/{w}"),
                DATES.map(lambda d: f"/stream/{d}T12:00:00.000"),
            )
        )
        return name + rest, name
    if kind == "kms":
        arn = f"arn:aws:kms:us-east-1:{ACCT}:key/{draw(UUIDS)}"
        return arn, arn
    arn = f"arn:aws:sqs:us-east-1:{ACCT}:{draw(st.sampled_from(['orders', 'jobs-1730371200']))}"
    return arn, arn


ARN_LISTS = st.lists(arn_and_name(), max_size=25)
GIVEN = st.sampled_from(
    [
        f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-??????",
        "arn:aws:s3:::alpha/in/*",
        f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pairs=ARN_LISTS,
    given_patterns=st.lists(GIVEN, max_size=2),
    min_group=st.integers(min_value=2, max_value=4),
)
def test_generalize_covers_every_input_and_keeps_names(
    pairs: list[tuple[str, str]], given_patterns: list[str], min_group: int
) -> None:
    arns = [arn for arn, _ in pairs] + given_patterns
    out = generalize_resources(arns, min_group=min_group)
    assert list(out) == sorted(set(out))
    for arn, _ in pairs:
        assert any(matches(p, arn, ignore_case=False) for p in out), arn
    for pattern in given_patterns:
        assert any(pattern_within(pattern, p) for p in out), pattern
    names = {name for _, name in pairs}
    for p in out:
        if p in given_patterns or any(pattern_within(p, g) for g in given_patterns):
            continue
        # Every generated pattern starts with an input's name, with no wildcard in it.
        assert any(p.startswith(name) for name in names), p
    # Nothing in the output is within another output pattern.
    for p, q in itertools.permutations(out, 2):
        assert not pattern_within(p, q), (p, q)


@settings(max_examples=300, deadline=None)
@given(pairs=ARN_LISTS, min_group=st.integers(min_value=2, max_value=4))
def test_generalize_is_idempotent_ish(pairs: list[tuple[str, str]], min_group: int) -> None:
    once = generalize_resources([arn for arn, _ in pairs], min_group=min_group)
    twice = generalize_resources(once, min_group=min_group)
    for p in once:
        assert any(pattern_within(p, q) for q in twice), p


@settings(max_examples=300, deadline=None)
@given(pairs=ARN_LISTS)
def test_explanation_matches_the_patterns(pairs: list[tuple[str, str]]) -> None:
    arns = [arn for arn, _ in pairs]
    explained = explain_generalization(arns)
    assert tuple(g.pattern for g in explained) == generalize_resources(arns)
    for g in explained:
        assert g.covers == tuple(
            sorted({a for a in arns if matches(g.pattern, a, ignore_case=False)})
        )
        assert g.rule


GRANTS = st.lists(
    st.sampled_from(
        [
            "*",
            "arn:aws:s3:::alpha/*",
            "arn:aws:s3:::alpha/in/*",
            "arn:aws:s3:::beta/config/*",
            "arn:aws:s3:::beta/*.json",
            "arn:aws:s3:::*/out/*",
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*",
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/*:log-stream:ecs/app/*",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders/index/*",
            f"arn:aws:kms:us-east-1:{ACCT}:key/*",
            f"arn:aws:sqs:us-east-1:{ACCT}:orders",
        ]
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(pairs=ARN_LISTS, grant=GRANTS, concrete=st.lists(st.integers(0, 24), max_size=3))
def test_clamp_stays_within_the_grant_and_keeps_granted_arns(
    pairs: list[tuple[str, str]], grant: list[str], concrete: list[int]
) -> None:
    arns = [arn for arn, _ in pairs]
    # Grants also name some of the touched ARNs exactly, as hand-written policies do.
    grant = grant + [arns[i] for i in concrete if i < len(arns)]
    patterns = generalize_resources(arns)
    out = clamp_to_grant(patterns, arns, grant)
    assert list(out) == sorted(set(out))
    for p in out:
        assert any(pattern_within(p, g) for g in grant), p
    for arn in arns:
        if any(matches(g, arn, ignore_case=False) for g in grant):
            assert any(matches(p, arn, ignore_case=False) for p in out), arn


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab/*", max_size=4), max_size=12), st.booleans())
def test_sorted_unique_is_sorted_set_whatever_the_input(values: list[str], presort: bool) -> None:
    """Checked without sorting when already sorted and unique: sorted input with a repeat, or
    one pair out of order, takes the long way."""
    given_values = sorted(values) if presort else values
    assert sorted_unique(given_values) == sorted(set(values))
    assert sorted_unique(tuple(given_values)) == sorted(set(values))
