"""split_statements and policy_size: every document within IAM's managed-policy limit, nothing
lost, nothing widened (DOMAIN.md section 7: managed policy 6,144 characters, whitespace not
counted)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.policy import Condition
from rightsizer.proposal.model import PolicyDocument, ProposedStatement
from rightsizer.proposal.split import (
    MANAGED_POLICY_LIMIT,
    MAX_MANAGED_POLICIES_PER_ROLE,
    policy_size,
    split_statements,
)

SMALL = 600  # a small limit keeps the cases readable; the algorithm does not care


def stmt(
    sid: str, actions: list[str], resources: list[str], conditions: tuple[Condition, ...] = ()
) -> ProposedStatement:
    return ProposedStatement(
        sid=sid, actions=tuple(actions), resources=tuple(resources), conditions=conditions
    )


def bucket_statement(sid: str, buckets: int, *, prefix: str = "bucket") -> ProposedStatement:
    return stmt(
        sid,
        ["s3:GetObject", "s3:PutObject"],
        [f"arn:aws:s3:::{prefix}-{i:04d}/*" for i in range(buckets)],
    )


def pairs(statements: tuple[ProposedStatement, ...] | list[ProposedStatement]) -> set:
    return {
        (action, resource, s.conditions)
        for s in statements
        for action in s.actions
        for resource in s.resources
    }


def all_statements(documents: tuple[PolicyDocument, ...]) -> list[ProposedStatement]:
    return [s for d in documents for s in d.statements]


def iam_count(document: dict) -> int:
    """What IAM counts: the characters of the pretty JSON, whitespace left out."""
    return len(re.sub(r"\s", "", json.dumps(document, indent=4)))


def test_quotas_match_the_iam_quotas_page() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    assert MANAGED_POLICY_LIMIT == 6144
    assert MAX_MANAGED_POLICIES_PER_ROLE == 10


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"Version": "2012-10-17", "Statement": []}, 39),
        ({"a": "b"}, 9),
        ({"a": "b c"}, 11),  # whitespace inside a string is counted: an upper bound
        ({"a": ["x", "y"]}, 15),
        ({"a": "\u00e9"}, 14),  # escaped: six characters for one, still an upper bound
        ({"a": "<&>"}, 26),  # as Terraform's jsonencode escapes them
    ],
)
def test_policy_size_counts_compact_json(document: dict, expected: int) -> None:
    assert policy_size(document) == expected


def test_policy_size_is_never_below_what_iam_counts() -> None:
    document = stmt(
        "S3", ["s3:GetObject"], ["arn:aws:s3:::my bucket/*"], (Condition("Bool", "k", ("v w",)),)
    ).as_json()
    assert policy_size(document) >= iam_count(document)


def test_no_statements_give_no_documents() -> None:
    assert split_statements([], base_name="rightsizer-app") == ()


@pytest.mark.parametrize(
    ("statements", "expected_names", "expected_sids"),
    [
        pytest.param(
            [stmt("A", ["s3:GetObject"], ["*"])],
            ["rightsizer-app"],
            [["A"]],
            id="one-small-statement",
        ),
        pytest.param(
            [stmt("A", ["s3:GetObject"], ["*"]), stmt("B", ["sqs:SendMessage"], ["*"])],
            ["rightsizer-app"],
            [["A", "B"]],
            id="two-small-statements-one-document",
        ),
        pytest.param(
            [bucket_statement("A", 6), bucket_statement("B", 6), bucket_statement("C", 6)],
            ["rightsizer-app-1", "rightsizer-app-2"],
            [["A", "B"], ["C"]],
            id="third-statement-needs-a-second-document",
        ),
        pytest.param(
            # First-fit: D is small enough to go back into the first document.
            [
                bucket_statement("A", 9),
                bucket_statement("B", 9),
                stmt("D", ["sqs:SendMessage"], ["*"]),
            ],
            ["rightsizer-app-1", "rightsizer-app-2"],
            [["A", "D"], ["B"]],
            id="first-fit-fills-earlier-documents",
        ),
    ],
)
def test_packing(
    statements: list[ProposedStatement],
    expected_names: list[str],
    expected_sids: list[list[str]],
) -> None:
    documents = split_statements(statements, base_name="rightsizer-app", limit=SMALL)
    assert [d.name for d in documents] == expected_names
    assert [[s.sid for s in d.statements] for d in documents] == expected_sids
    for document in documents:
        assert policy_size(document.as_json()) <= SMALL
    # Nothing split here: the statements come back unchanged.
    assert sorted(all_statements(documents), key=lambda s: s.sid) == statements


def test_each_document_keeps_the_given_order() -> None:
    statements = [bucket_statement(f"S{i}", 1 + (i * 7) % 5) for i in range(20)]
    documents = split_statements(statements, base_name="p", limit=SMALL)
    assert len(documents) > 1
    position = {s.sid: i for i, s in enumerate(statements)}
    for document in documents:
        order = [position[s.sid] for s in document.statements]
        assert order == sorted(order)
    assert pairs(all_statements(documents)) == pairs(statements)


def test_split_is_deterministic() -> None:
    statements = [bucket_statement(f"S{i}", 1 + (i * 3) % 7) for i in range(30)]
    first = split_statements(statements, base_name="p", limit=SMALL, max_documents=100)
    again = split_statements(list(statements), base_name="p", limit=SMALL, max_documents=100)
    assert again == first


@pytest.mark.parametrize(
    ("statement", "cut_by"),
    [
        pytest.param(bucket_statement("Big", 40), "resources", id="many-resources"),
        pytest.param(
            stmt("Big", [f"ec2:DescribeThing{i:03d}" for i in range(60)], ["*"]),
            "actions",
            id="many-actions",
        ),
        pytest.param(
            stmt(
                "Big",
                [f"s3:GetObjectVersionThing{i:03d}" for i in range(30)],
                [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(30)],
            ),
            "both",
            id="many-actions-and-resources",
        ),
    ],
)
def test_a_statement_over_the_limit_is_cut(statement: ProposedStatement, cut_by: str) -> None:
    assert policy_size(PolicyDocument("x", (statement,)).as_json()) > SMALL
    documents = split_statements([statement], base_name="p", limit=SMALL, max_documents=100)
    pieces = all_statements(documents)
    assert len(pieces) > 1
    for document in documents:
        assert policy_size(document.as_json()) <= SMALL
    assert [s.sid for s in pieces] == [f"Big{i}" for i in range(1, len(pieces) + 1)]
    assert pairs(pieces) == pairs([statement])
    if cut_by == "resources":
        assert all(s.actions == statement.actions for s in pieces)
    if cut_by == "actions":
        assert all(s.resources == statement.resources for s in pieces)
    if cut_by == "both":  # both lists cut, into far fewer pieces than one per resource
        assert len({s.actions for s in pieces}) > 1
        assert len({s.resources for s in pieces}) > 1
        assert len(pieces) < len(statement.resources)
    for piece in pieces:  # each piece keeps the lists in the statement's order
        assert list(piece.actions) == [a for a in statement.actions if a in piece.actions]
        assert list(piece.resources) == [r for r in statement.resources if r in piece.resources]


def test_pieces_fit_whatever_the_limit() -> None:
    # Piece Sids ("Big1" ... "Big12") are longer than the original: they must be counted, at
    # every limit, including those where a piece lands within a character or two of it.
    statement = stmt(
        "Big",
        ["s3:GetObject", "s3:PutObject"],
        [f"arn:aws:s3:::b{i}-{'x' * (i % 7)}/*" for i in range(60)],
    )
    for limit in range(300, 700):
        documents = split_statements([statement], base_name="p", limit=limit, max_documents=100)
        assert max(policy_size(d.as_json()) for d in documents) <= limit, limit
        assert pairs(all_statements(documents)) == pairs([statement])


def test_pieces_keep_their_conditions() -> None:
    condition = Condition("StringEquals", "aws:ResourceAccount", ("123456789012",))
    statement = stmt(
        "Scoped",
        ["s3:GetObject"],
        [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(40)],
        (condition,),
    )
    pieces = all_statements(split_statements([statement], base_name="p", limit=SMALL))
    assert len(pieces) > 1
    assert all(s.conditions == (condition,) for s in pieces)


def test_a_carried_deny_is_cut_like_an_allow() -> None:
    deny = replace(bucket_statement("DenyWrites", 40), effect="Deny")
    pieces = all_statements(split_statements([deny], base_name="p", limit=SMALL))
    assert len(pieces) > 1
    assert all(s.effect == "Deny" for s in pieces)
    assert pairs(pieces) == pairs([deny])


def test_a_not_resource_list_is_never_cut() -> None:
    # Deny every action listed on everything but these buckets: cut by actions only.
    not_resources = tuple(f"arn:aws:s3:::keep-{i:02d}/*" for i in range(5))
    deny = ProposedStatement(
        sid="DenyElsewhere",
        actions=tuple(f"s3:PutObjectThing{i:03d}" for i in range(40)),
        resources=(),
        effect="Deny",
        not_resources=not_resources,
    )
    documents = split_statements([deny], base_name="p", limit=SMALL, max_documents=100)
    pieces = all_statements(documents)
    assert len(pieces) > 1
    assert all(s.not_resources == not_resources and s.resources == () for s in pieces)
    assert [a for s in pieces for a in s.actions] == list(deny.actions)
    for document in documents:
        assert policy_size(document.as_json()) <= SMALL
        for statement in document.as_json()["Statement"]:
            assert "Resource" not in statement and "NotResource" in statement


def test_a_not_action_list_is_never_cut() -> None:
    not_actions = ("iam:*", "organizations:*", "account:*")
    deny = ProposedStatement(
        sid="DenyAllBut",
        actions=(),
        resources=tuple(f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(40)),
        effect="Deny",
        not_actions=not_actions,
    )
    pieces = all_statements(split_statements([deny], base_name="p", limit=SMALL))
    assert len(pieces) > 1
    assert all(s.not_actions == not_actions and s.actions == () for s in pieces)
    assert [r for s in pieces for r in s.resources] == list(deny.resources)


def test_a_statement_with_both_lists_negated_cannot_be_cut() -> None:
    deny = ProposedStatement(
        sid="DenyOdd",
        actions=(),
        resources=(),
        effect="Deny",
        not_actions=tuple(f"s3:Thing{i:03d}" for i in range(40)),
        not_resources=("arn:aws:s3:::keep/*",),
    )
    with pytest.raises(ValueError, match="more than a managed policy can hold"):
        split_statements([deny], base_name="p", limit=SMALL)


def test_piece_sids_are_alphanumeric_and_unique() -> None:
    big = bucket_statement("Read-Data", 40)  # "-" is not allowed in a Sid: dropped in the pieces
    taken = stmt("ReadData1", ["sqs:SendMessage"], ["*"])
    documents = split_statements([taken, big], base_name="p", limit=SMALL)
    sids = [s.sid for s in all_statements(documents)]
    assert len(sids) == len(set(sids))
    assert "ReadData1" in sids and sids.count("ReadData1") == 1
    assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids if sid != "Read-Data")
    assert {sid for sid in sids if sid != "ReadData1"} >= {"ReadData2", "ReadData3"}


def test_more_documents_than_a_role_may_have_is_an_error() -> None:
    statements = [bucket_statement(f"S{i}", 8, prefix=f"b{i}") for i in range(11)]
    with pytest.raises(ValueError, match=r"need 11 managed policies .* more than the 10"):
        split_statements(statements, base_name="p", limit=SMALL)
    # The limit is a parameter for accounts with a raised quota.
    documents = split_statements(statements, base_name="p", limit=SMALL, max_documents=20)
    assert len(documents) == 11
    assert documents[-1].name == "p-11"


def test_one_pair_too_big_for_any_document_is_an_error() -> None:
    statement = stmt("Huge", ["s3:GetObject"], ["arn:aws:s3:::" + "x" * SMALL])
    with pytest.raises(ValueError, match="more than a managed policy can hold"):
        split_statements([statement], base_name="p", limit=SMALL)


def test_default_limit_fits_a_realistic_large_role() -> None:
    statements = [bucket_statement(f"Bucket{i}", 30, prefix=f"team{i}-data") for i in range(8)]
    documents = split_statements(statements, base_name="rightsizer-orders-api-task")
    assert 1 < len(documents) <= MAX_MANAGED_POLICIES_PER_ROLE
    for document in documents:
        assert policy_size(document.as_json()) <= MANAGED_POLICY_LIMIT
        assert iam_count(document.as_json()) <= MANAGED_POLICY_LIMIT


# --------------------------------------------------------------------------------------------
# property: whatever the statements, every document fits and the grant is unchanged

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=40)
_action = st.builds(lambda s, a: f"{s}:{a}", st.sampled_from(["s3", "sqs", "kms", "ec2"]), _name)
_resource = st.one_of(st.just("*"), st.builds(lambda b, k: f"arn:aws:s3:::{b}/{k}", _name, _name))
_condition = st.builds(
    Condition,
    st.sampled_from(["StringEquals", "StringLike", "ArnLike"]),
    st.sampled_from(["aws:ResourceAccount", "aws:SourceVpc", "s3:prefix"]),
    st.lists(_name, min_size=1, max_size=3).map(tuple),
)


@st.composite
def _statements(draw: st.DrawFn) -> list[ProposedStatement]:
    count = draw(st.integers(min_value=0, max_value=12))
    out = []
    for index in range(count):
        actions = draw(st.lists(_action, min_size=1, max_size=25, unique=True))
        resources = draw(st.lists(_resource, min_size=1, max_size=25, unique=True))
        conditions = draw(st.lists(_condition, max_size=2).map(tuple))
        out.append(stmt(f"S{index}", sorted(actions), sorted(resources), conditions))
    return out


@settings(max_examples=100, deadline=None)
@given(statements=_statements(), limit=st.sampled_from([900, 1500, MANAGED_POLICY_LIMIT]))
def test_property_every_document_fits_and_the_grant_is_unchanged(
    statements: list[ProposedStatement], limit: int
) -> None:
    try:
        documents = split_statements(statements, base_name="p", limit=limit, max_documents=1000)
    except ValueError as error:
        # Only when one action on one resource with its conditions cannot fit on its own.
        assert "more than a managed policy can hold" in str(error)
        return
    for document in documents:
        assert policy_size(document.as_json()) <= limit
        sids = [s.sid for s in document.statements]
        assert len(sids) == len(set(sids))
    assert pairs(all_statements(documents)) == pairs(statements)
    names = [d.name for d in documents]
    assert names == (["p"] if len(documents) == 1 else [f"p-{i}" for i in range(1, len(names) + 1)])


def test_a_document_the_packing_miscounted_is_refused_not_written(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The packing counts pieces; the documents themselves are measured again before they are
    returned, so an arithmetic slip can never hand IAM a policy it would refuse on apply."""
    import rightsizer.proposal.split as split

    monkeypatch.setattr(split, "_statement_size", lambda _statement: 1)  # undercount everything
    statements = [stmt(f"S{i}", ["s3:GetObject"], [f"arn:aws:s3:::bucket-{i}/*"])
                  for i in range(40)]
    with pytest.raises(ValueError, match=r"over IAM's limit of 600"):
        split_statements(statements, base_name="app", limit=SMALL)
