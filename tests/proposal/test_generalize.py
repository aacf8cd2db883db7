"""Resource generalization for proposals: realistic ECS cases, pattern inclusion, grant clamping."""

from __future__ import annotations

import pytest

from rightsizer.iam.patterns import matches, pattern_within
from rightsizer.proposal.generalize import (
    Generalization,
    clamp_to_grant,
    explain_generalization,
    generalize_resources,
)

ACCT = "111122223333"
STREAMS = f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:log-stream:"
TASK_1 = "0123456789abcdef0123456789abcdef"
TASK_2 = "fedcba9876543210fedcba9876543210"
TASK_3 = "00112233445566778899aabbccddeeff"
UUID_1 = "550e8400-e29b-41d4-a716-446655440000"
UUID_2 = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"
S3 = "arn:aws:s3:::orders-artifacts/"
DDB = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/"
SQS = f"arn:aws:sqs:us-east-1:{ACCT}:"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:"
LAMBDA = f"arn:aws:lambda:us-east-1:{ACCT}:function:"
KMS = f"arn:aws:kms:us-east-1:{ACCT}:key/"
ECR = f"arn:aws:ecr:us-east-1:{ACCT}:repository/"
ECS = f"arn:aws:ecs:us-east-1:{ACCT}:"
SSM = f"arn:aws:ssm:us-east-1:{ACCT}:parameter/"

# (id, input ARNs, expected patterns, expected rule per pattern)
CASES = [
    pytest.param(
        [STREAMS + f"ecs/app/{t}" for t in (TASK_1, TASK_2, TASK_3)],
        [STREAMS + "ecs/app/*"],
        ["task id"],
        id="log-streams-task-ids",
    ),
    pytest.param(
        [STREAMS + f"ecs/app/{UUID_1}", STREAMS + f"ecs/app/{UUID_2}"],
        [STREAMS + "ecs/app/*"],
        ["uuid"],
        id="log-streams-old-uuid-task-ids",
    ),
    pytest.param(
        [
            STREAMS + f"ecs/app/{TASK_1}",
            STREAMS + f"ecs/envoy/{TASK_1}",
            STREAMS + f"ecs/app/{TASK_2}",
        ],
        [STREAMS + "ecs/app/*", STREAMS + "ecs/envoy/*"],
        ["task id", "task id"],
        id="log-streams-one-pattern-per-container",
    ),
    pytest.param(
        [f"{S3}tasks/{TASK_1}/output.json", f"{S3}tasks/{TASK_2}/output.json"],
        [f"{S3}tasks/*/output.json"],
        ["task id"],
        id="s3-task-id-folder",
    ),
    pytest.param(
        [f"{S3}reports/report-2026-10-31.csv", f"{S3}reports/report-2026-11-01.csv"],
        [f"{S3}reports/report-*.csv"],
        ["date"],
        id="s3-iso-date-inside-a-name",
    ),
    pytest.param(
        [f"{S3}uploads/2026/10/31/file.json", f"{S3}uploads/2026/11/01/file.json"],
        [f"{S3}uploads/*/*/*/file.json"],
        ["date"],
        id="s3-date-folders",
    ),
    pytest.param(
        [f"{S3}logs/2026/10/31/07/batch.gz"],
        [f"{S3}logs/*/*/*/*/batch.gz"],
        ["date"],
        id="s3-date-and-hour-folders",
    ),
    pytest.param(
        [f"{S3}exports/dump-20261031T1200Z.json.gz", f"{S3}exports/dump-20261101T0915Z.json.gz"],
        [f"{S3}exports/dump-*.json.gz"],
        ["date"],
        id="s3-compact-timestamp",
    ),
    pytest.param(
        [f"{S3}snapshots/2026-10-31T12:00:00Z/state.bin"],
        [f"{S3}snapshots/*/state.bin"],
        ["date"],
        id="s3-iso-timestamp-segment",
    ),
    pytest.param(
        [f"{S3}in/{UUID_1}.json", f"{S3}in/{UUID_2}.json"],
        [f"{S3}in/*.json"],
        ["uuid"],
        id="s3-uuid-any-case",
    ),
    pytest.param(
        [f"{S3}events/1730371200.json", f"{S3}events/1730371200123.json"],
        [f"{S3}events/*.json"],
        ["number"],
        id="s3-epoch-seconds-and-millis",
    ),
    pytest.param(
        [f"{S3}orders/123456789.json"],
        [f"{S3}orders/*.json"],
        ["counter"],
        id="s3-short-number-is-a-counter",
    ),
    pytest.param(
        [f"{S3}builds/build-0123456789ABCDEF.zip"],
        [f"{S3}builds/build-*.zip"],
        ["hex id"],
        id="s3-long-hex-id",
    ),
    pytest.param(
        [f"{S3}builds/build-0123456789abcde.zip"],
        [f"{S3}builds/build-*.zip"],
        ["hex id"],
        id="s3-15-hex-is-an-id",
    ),
    pytest.param(
        [f"{S3}runs/{TASK_1}/2026-10-31.log"],
        [f"{S3}runs/*/*.log"],
        ["task id, date"],
        id="s3-two-rules-in-one-pattern",
    ),
    pytest.param(
        [f"{S3}config/a.json", f"{S3}config/b.json", f"{S3}config/c.json"],
        [f"{S3}config/*"],
        ["prefix (3 keys)"],
        id="s3-many-keys-one-prefix",
    ),
    pytest.param(
        [f"{S3}config/a.json", f"{S3}config/b.json"],
        [f"{S3}config/a.json", f"{S3}config/b.json"],
        ["exact", "exact"],
        id="s3-fewer-keys-than-min-group-kept",
    ),
    pytest.param(
        [f"{S3}a", f"{S3}b", f"{S3}c"],
        [f"{S3}*"],
        ["prefix (3 keys)"],
        id="s3-keys-at-bucket-root-never-above-bucket",
    ),
    pytest.param(
        [f"{S3}p/{d}/{f}" for d in "xyz" for f in "abc"] + [f"{S3}p/readme"],
        [f"{S3}p/*"],
        ["prefix (10 keys)"],
        id="s3-merged-folders-merge-one-level-up",
    ),
    pytest.param(
        [f"{S3}p/x/a", f"{S3}p/y/a", f"{S3}p/z/a"],
        [f"{S3}p/x/a", f"{S3}p/y/a", f"{S3}p/z/a"],
        ["exact"] * 3,
        id="s3-a-tree-of-single-keys-is-not-a-prefix",
    ),
    pytest.param(
        ["arn:aws:s3:::bucket-a/x", "arn:aws:s3:::bucket-b/x", "arn:aws:s3:::bucket-c/x"],
        ["arn:aws:s3:::bucket-a/x", "arn:aws:s3:::bucket-b/x", "arn:aws:s3:::bucket-c/x"],
        ["exact"] * 3,
        id="s3-never-merged-across-buckets",
    ),
    pytest.param(
        ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b", "arn:aws:s3:::bucket-c"],
        ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b", "arn:aws:s3:::bucket-c"],
        ["exact"] * 3,
        id="s3-bucket-arns-exact",
    ),
    pytest.param(
        [f"arn:aws:s3:::logs-{TASK_1}/x"],
        [f"arn:aws:s3:::logs-{TASK_1}/x"],
        ["exact"],
        id="s3-id-in-bucket-name-kept",
    ),
    pytest.param(
        [f"arn:aws:s3:us-east-1:{ACCT}:accesspoint/ap/object/{k}" for k in "abc"],
        [f"arn:aws:s3:us-east-1:{ACCT}:accesspoint/ap/object/*"],
        ["prefix (3 keys)"],
        id="s3-access-point-name-fixed-keys-merge",
    ),
    pytest.param(
        [DDB + "orders", DDB + "customers", DDB + "invoices"],
        [DDB + "customers", DDB + "invoices", DDB + "orders"],
        ["exact"] * 3,
        id="dynamodb-table-names-never-generalized",
    ),
    pytest.param(
        [DDB + "orders", DDB + "orders/index/by-date", DDB + "orders/index/by-customer"],
        [DDB + "orders", DDB + "orders/index/by-customer", DDB + "orders/index/by-date"],
        ["exact"] * 3,
        id="dynamodb-table-and-index",
    ),
    pytest.param(
        [DDB + f"orders/index/{i}" for i in ("a", "b", "c")],
        [DDB + "orders/index/*"],
        ["prefix (3 keys)"],
        id="dynamodb-many-indexes",
    ),
    pytest.param(
        [DDB + "orders/stream/2026-10-31T12:00:00.000"],
        [DDB + "orders/stream/*"],
        ["date"],
        id="dynamodb-stream-label",
    ),
    pytest.param(
        [DDB + f"events-{n}" for n in ("1730371200", "1730371201", "1730371202")],
        [DDB + f"events-{n}" for n in ("1730371200", "1730371201", "1730371202")],
        ["exact"] * 3,
        id="dynamodb-number-in-table-name-kept",
    ),
    pytest.param(
        [SQS + "orders", SQS + "orders-dlq", SQS + f"jobs-{TASK_1}"],
        [SQS + f"jobs-{TASK_1}", SQS + "orders", SQS + "orders-dlq"],
        ["exact"] * 3,
        id="sqs-queue-names-never-generalized",
    ),
    pytest.param(
        [SECRET + "prod/db-??????", SECRET + "prod/db-AbCdEf", SECRET + "prod/api-XyZ123"],
        [SECRET + "prod/api-XyZ123", SECRET + "prod/db-??????"],
        ["exact", "given pattern"],
        id="secrets-given-suffix-pattern-covers-the-concrete-secret",
    ),
    pytest.param(
        [LAMBDA + "orders", LAMBDA + "orders:1", LAMBDA + "orders:2", LAMBDA + "orders:live"],
        [LAMBDA + "orders", LAMBDA + "orders:1", LAMBDA + "orders:2", LAMBDA + "orders:live"],
        ["exact"] * 4,
        id="lambda-qualified-arns-kept",
    ),
    pytest.param([KMS + UUID_1], [KMS + UUID_1], ["exact"], id="kms-key-id-is-the-name"),
    pytest.param(
        [
            KMS + UUID_1,
            KMS + "1234abcd-12ab-34cd-56ef-1234567890ab",
            KMS + "0987dcba-09fe-87dc-65ba-ab0987654321",
        ],
        sorted(
            [
                KMS + UUID_1,
                KMS + "1234abcd-12ab-34cd-56ef-1234567890ab",
                KMS + "0987dcba-09fe-87dc-65ba-ab0987654321",
            ]
        ),
        ["exact"] * 3,
        id="kms-many-keys-not-merged",
    ),
    pytest.param(
        [ECR + "orders", ECR + "team/api", ECR + "team/worker", ECR + "team/cron"],
        [ECR + "orders", ECR + "team/api", ECR + "team/cron", ECR + "team/worker"],
        ["exact"] * 4,
        id="ecr-repository-names-with-slashes-kept",
    ),
    pytest.param(
        [ECS + f"task/prod/{TASK_1}", ECS + f"task/prod/{TASK_2}"],
        [ECS + "task/prod/*"],
        ["task id"],
        id="ecs-task-arns-cluster-fixed",
    ),
    pytest.param(
        [ECS + "task-definition/orders:3", ECS + "task-definition/orders:4"],
        [ECS + "task-definition/orders:3", ECS + "task-definition/orders:4"],
        ["exact"] * 2,
        id="ecs-task-definition-revisions-kept",
    ),
    pytest.param(
        [SSM + "orders/prod/db-url", SSM + "orders/prod/db-user", SSM + "orders/prod/api-key"],
        [SSM + "orders/prod/*"],
        ["prefix (3 keys)"],
        id="ssm-parameter-hierarchy",
    ),
    pytest.param(
        [f"arn:aws:iam::{ACCT}:role/ecs/{n}" for n in ("a", "b", "c")],
        [f"arn:aws:iam::{ACCT}:role/ecs/{n}" for n in ("a", "b", "c")],
        ["exact"] * 3,
        id="iam-roles-for-pass-role-never-merged",
    ),
    pytest.param(
        [f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*", STREAMS + f"ecs/app/{TASK_1}"],
        [f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*"],
        ["given pattern"],
        id="given-log-group-pattern-covers-streams",
    ),
    pytest.param(
        ["*", f"{S3}x", SQS + "orders"], ["*"], ["given pattern"], id="given-star-covers-all"
    ),
    pytest.param([], [], [], id="empty"),
]


@pytest.mark.parametrize(("arns", "expected", "rules"), CASES)
def test_generalize_resources(arns: list[str], expected: list[str], rules: list[str]) -> None:
    assert generalize_resources(arns) == tuple(expected)
    explained = explain_generalization(arns)
    assert [g.rule for g in explained] == rules
    assert tuple(g.pattern for g in explained) == tuple(expected)


@pytest.mark.parametrize(("arns", "expected", "rules"), CASES)
def test_every_input_is_covered_and_covers_is_exact(
    arns: list[str], expected: list[str], rules: list[str]
) -> None:
    explained = explain_generalization(arns)
    for arn in arns:
        assert any(pattern_within(arn, g.pattern) for g in explained), arn
        if "*" not in arn and "?" not in arn:
            assert any(matches(g.pattern, arn, ignore_case=False) for g in explained), arn
    for g in explained:
        assert g.covers == tuple(sorted({a for a in arns if pattern_within(a, g.pattern)}))
        assert g.covers  # no pattern is proposed for nothing


def test_log_stream_explanation() -> None:
    arns = [STREAMS + f"ecs/app/{t}" for t in (TASK_2, TASK_1)]
    assert explain_generalization(arns) == (
        Generalization(STREAMS + "ecs/app/*", tuple(sorted(arns)), "task id"),
    )


def test_min_group_is_a_parameter() -> None:
    arns = [f"{S3}config/a.json", f"{S3}config/b.json"]
    assert generalize_resources(arns, min_group=2) == (f"{S3}config/*",)
    many = [f"{S3}config/{name}.json" for name in ("app", "db", "cache", "queue", "web")]
    assert generalize_resources(many, min_group=6) == tuple(sorted(many))


def test_min_group_below_two_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_group"):
        generalize_resources([f"{S3}a"], min_group=1)


def test_order_and_duplicates_do_not_matter() -> None:
    arns = [
        f"{S3}config/a.json",
        f"{S3}config/b.json",
        f"{S3}config/c.json",
        STREAMS + f"ecs/app/{TASK_1}",
        KMS + UUID_1,
    ]
    expected = generalize_resources(arns)
    assert generalize_resources(list(reversed(arns)) + arns) == expected
    assert list(expected) == sorted(set(expected))


def test_generalizing_twice_changes_nothing() -> None:
    arns = [f"{S3}config/{n}.json" for n in "abc"] + [f"{S3}tasks/{TASK_1}/out.json"]
    once = generalize_resources(arns)
    assert generalize_resources(once) == once


def test_non_arn_strings_are_kept() -> None:
    assert generalize_resources(["not-an-arn", TASK_1]) == tuple(sorted(["not-an-arn", TASK_1]))


# ---------------------------------------------------------------------------------------------
# pattern_within

WITHIN = [
    ("abc", "abc", True),
    ("abc", "abd", False),
    ("", "*", True),
    ("", "?", False),
    ("anything/at:all", "*", True),
    ("*", "*", True),
    ("a*", "*", True),
    ("a*b", "a*", True),
    ("a?c", "a*", True),
    ("a*", "a?", False),
    ("abc", "a?c", True),
    ("abbc", "a?c", False),
    ("*", "a*", False),
    ("a?", "a", False),
    ("?", "a", False),
    ("a*", "a*b", False),
    ("ab*", "a*", True),
    ("a**b", "a*b", True),
    ("*?", "?*", True),  # the same language, spelled two ways
    ("?*", "*?", True),
    ("*a", "*?", True),  # needs the exact check: the simulation alone cannot see it
    ("*a", "?*", True),
    ("*", "?*", False),
    ("a?*", "*a*", True),
    ("ABC", "abc", False),  # case-sensitive, as for ARNs
    ("a*", "A*", False),
    ("arn:aws:s3:::b/x/*", "arn:aws:s3:::b/*", True),
    ("arn:aws:s3:::b/x/*", "arn:aws:s3:::c/*", False),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/*", False),
    ("arn:aws:s3:::b/*/out.json", "arn:aws:s3:::b/*.json", True),
    ("arn:aws:s3:::b/*.json", "arn:aws:s3:::b/*/out.json", False),
    (SECRET + "db-AbCdEf", SECRET + "db-??????", True),
    (SECRET + "db-AbCdE", SECRET + "db-??????", False),
    (SECRET + "db-??????", SECRET + "db-*", True),
    (SECRET + "db-*", SECRET + "db-??????", False),
    (STREAMS + "ecs/app/*", f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*", True),
    (STREAMS + "ecs/app/*", f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/order:*", False),
]


@pytest.mark.parametrize(("inner", "outer", "expected"), WITHIN)
def test_pattern_within(inner: str, outer: str, expected: bool) -> None:
    assert pattern_within(inner, outer) is expected


@pytest.mark.parametrize(
    ("inner", "outer", "expected"), [w for w in WITHIN if "*" not in w[0] and "?" not in w[0]]
)
def test_exact_strings_reduce_to_matching(inner: str, outer: str, expected: bool) -> None:
    assert pattern_within(inner, outer) is matches(outer, inner, ignore_case=False) is expected


def test_pattern_within_long_arn_patterns() -> None:
    # ARN-sized patterns with several wildcards stay decidable (no give-up on the budget).
    inner = STREAMS + "ecs/*/" + "?" * 32
    assert pattern_within(inner, STREAMS + "ecs/*")
    assert pattern_within(inner, STREAMS + "*/*/*")
    assert not pattern_within(inner, STREAMS + "ecs/app/*")


# ---------------------------------------------------------------------------------------------
# clamp_to_grant

B = "arn:aws:s3:::b/"
CLAMP = [
    pytest.param([f"{B}*"], [f"{B}in/1"], ["*"], [f"{B}*"], id="grant-star-everything-within"),
    pytest.param(
        [f"{B}in/*"], [f"{B}in/1"], [f"{B}*"], [f"{B}in/*"], id="within-a-grant-pattern-kept"
    ),
    pytest.param(
        [f"{B}*"],
        [f"{B}in/1", f"{B}in/2"],
        [f"{B}in/*"],
        [f"{B}in/*"],
        id="broader-than-grant-replaced-by-narrower-grant-pattern",
    ),
    pytest.param(
        [f"{B}reports/report-*.csv"],
        [f"{B}reports/report-2026-10-31.csv"],
        [f"{B}reports/report-2026-*"],
        [f"{B}reports/report-2026-10-31.csv"],
        id="grant-not-within-proposal-gives-the-concrete-arn",
    ),
    pytest.param(
        [f"{B}*"],
        [f"{B}in/1", f"{B}secret/2"],
        [f"{B}in/*"],
        [f"{B}in/*"],
        id="arn-outside-the-grant-dropped",
    ),
    pytest.param([f"{B}*"], [f"{B}in/1"], [], [], id="empty-grant-nothing"),
    pytest.param(
        [f"{B}x/*", f"{B}*"],
        [f"{B}x/1", f"{B}y/1"],
        [f"{B}x/*", f"{B}y/1"],
        [f"{B}x/*", f"{B}y/1"],
        id="output-pruned-and-sorted",
    ),
    pytest.param(
        [SECRET + "db-??????"],
        [SECRET + "db-??????"],
        [SECRET + "db-*"],
        [SECRET + "db-??????"],
        id="given-suffix-pattern-within-grant",
    ),
    pytest.param(
        [STREAMS + "ecs/app/*"],
        [STREAMS + f"ecs/app/{TASK_1}"],
        [f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/orders:*"],
        [STREAMS + "ecs/app/*"],
        id="log-streams-within-log-group-grant",
    ),
    pytest.param(
        [STREAMS + "ecs/app/*"],
        [STREAMS + f"ecs/app/{TASK_1}"],
        [STREAMS + f"ecs/app/{TASK_1}"],
        [STREAMS + f"ecs/app/{TASK_1}"],
        id="grant-of-one-stream-clamps-to-it",
    ),
    pytest.param(
        [f"{B}unrelated/*"],
        [f"{B}in/1"],
        [f"{B}in/*"],
        [],
        id="pattern-covering-no-input-is-not-widened",
    ),
]


@pytest.mark.parametrize(("patterns", "arns", "grant", "expected"), CLAMP)
def test_clamp_to_grant(
    patterns: list[str], arns: list[str], grant: list[str], expected: list[str]
) -> None:
    out = clamp_to_grant(patterns, arns, grant)
    assert out == tuple(expected)
    for pattern in out:
        assert any(pattern_within(pattern, g) for g in grant)


def test_clamp_after_generalize_keeps_every_granted_arn() -> None:
    arns = [f"{B}config/{n}.json" for n in "abc"] + [f"{B}private/k"]
    patterns = generalize_resources(arns)
    assert patterns == (f"{B}config/*", f"{B}private/k")
    grant = [f"{B}config/a.json", f"{B}config/b.json", f"{B}config/c*"]
    out = clamp_to_grant(patterns, arns, grant)
    assert out == (f"{B}config/a.json", f"{B}config/b.json", f"{B}config/c*")
