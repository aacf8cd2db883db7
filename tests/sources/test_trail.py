"""Trail settings from files and from the CloudTrail API (moto's server over HTTP; conftest.py).

moto (5.x) implements CreateTrail, DescribeTrails (with shadow trails), PutEventSelectors and
GetEventSelectors for classic and advanced selectors; a trail never given selectors comes back
with two empty lists, which parse_event_selectors reads as the CloudTrail default.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from rightsizer.errors import ConfigError, SourceError
from rightsizer.iam.observability import DataSelector, FieldCondition, observability
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.trail import fetch_trail_settings, load_trail_settings_file

ACCT = "123456789012"  # moto's account
CLASSIC = {
    "TrailARN": f"arn:aws:cloudtrail:eu-west-1:{ACCT}:trail/main",
    "EventSelectors": [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            "ExcludeManagementEventSources": ["kms.amazonaws.com"],
        }
    ],
}
ADVANCED = {
    "TrailARN": f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/data",
    "AdvancedEventSelectors": [
        {
            "Name": "sqs",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::SQS::Queue"]},
            ],
        }
    ],
}


def write(tmp_path: Path, content: Any, name: str = "trails.json") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else orjson.dumps(content))
    return path


# -- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (CLASSIC, ["main"]),
        ([CLASSIC, ADVANCED], ["main", "data"]),
        ({"trails": [CLASSIC, ADVANCED]}, ["main", "data"]),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}]}, ["trails"]),  # no ARN: the file stem
        (
            [{"Name": "named", "EventSelectors": [{}]}, {"EventSelectors": [{}]}],
            ["named", "trails#2"],
        ),
    ],
    ids=["one-output", "list", "trails-key", "no-arn", "names"],
)
def test_file_shapes(tmp_path: Path, content: Any, names: list[str]) -> None:
    path = write(tmp_path, content)
    settings = load_trail_settings_file(path)
    assert [s.name for s in settings] == names
    assert all(s.source.startswith(f"file {path}") for s in settings)


def test_a_file_is_read_into_settings_that_drive_the_verdict(tmp_path: Path) -> None:
    main, data = load_trail_settings_file(write(tmp_path, [CLASSIC, ADVANCED]))
    assert main.excluded_management_sources == ("kms.amazonaws.com",)
    assert main.data_selectors == (DataSelector("AWS::S3::Object"),)
    assert main.home_region == "eu-west-1"
    assert data.data_selectors == (DataSelector("AWS::SQS::Queue"),)
    assert (data.management_read, data.management_write) == (False, False)
    assert observability("sqs:SendMessage", [main, data]).observable
    assert not observability("kms:Decrypt", [main, data]).observable


def test_the_output_of_get_event_selectors_with_response_metadata_is_accepted(
    tmp_path: Path,
) -> None:
    content = {**CLASSIC, "ResponseMetadata": {"HTTPStatusCode": 200}}
    (settings,) = load_trail_settings_file(write(tmp_path, content))
    assert settings.name == "main"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        ([], "no trails"),
        ({"trails": []}, "no trails"),
        (["x"], "get-event-selectors object"),
        ({"TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/x"}, "neither EventSelectors"),
        ({"EventSelectors": [{"ReadWriteType": "Both"}]}, "ReadWriteType"),
        ([CLASSIC, {"AdvancedEventSelectors": [{"FieldSelectors": []}]}], "trail 2"),
    ],
    ids=[
        "not-json",
        "empty-list",
        "empty-trails",
        "not-object",
        "no-selectors",
        "bad-value",
        "second-bad",
    ],
)
def test_a_bad_file_is_a_config_error_naming_the_file(
    tmp_path: Path, content: Any, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=message) as raised:
        load_trail_settings_file(path)
    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=r"absent\.json"):
        load_trail_settings_file(path)


# -- the CloudTrail API through moto's server ---------------------------------------------------


@pytest.fixture
def trails(moto_server: str) -> tuple[AwsOptions, str, str]:
    """Two fresh trails in us-east-1 (one multi-region) writing to a fresh bucket: their names."""
    options = AwsOptions(endpoint_url=moto_server, region="us-east-1", max_attempts=0)
    s3 = make_aws_client("s3", options)
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    cloudtrail = make_aws_client("cloudtrail", options)
    suffix = uuid.uuid4().hex[:8]
    classic, advanced = f"classic-{suffix}", f"advanced-{suffix}"
    cloudtrail.create_trail(Name=classic, S3BucketName=bucket, IsMultiRegionTrail=True)
    cloudtrail.create_trail(Name=advanced, S3BucketName=bucket)
    cloudtrail.put_event_selectors(
        TrailName=classic,
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ],
    )
    cloudtrail.put_event_selectors(
        TrailName=advanced,
        AdvancedEventSelectors=[
            {
                "Name": "mgmt",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
            },
            {
                "Name": "s3 reads of one bucket",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                    {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::app-bucket/"]},
                ],
            },
        ],
    )
    return options, classic, advanced


def test_fetch_reads_classic_and_advanced_selectors(trails: tuple[AwsOptions, str, str]) -> None:
    options, classic, advanced = trails
    settings = {s.name: s for s in fetch_trail_settings(options, [classic, advanced])}
    assert set(settings) == {classic, advanced}

    c = settings[classic]
    assert c.source == f"trail arn:aws:cloudtrail:us-east-1:{ACCT}:trail/{classic}"
    assert (c.management_read, c.management_write) == (False, True)
    assert c.excluded_management_sources == ("kms.amazonaws.com",)
    assert c.data_selectors == (DataSelector("AWS::Lambda::Function", False, True),)
    assert (c.multi_region, c.home_region) == (True, "us-east-1")

    a = settings[advanced]
    assert (a.management_read, a.management_write) == (True, True)
    assert a.data_selectors == (
        DataSelector(
            "AWS::S3::Object",
            True,
            False,
            (FieldCondition("StartsWith", ("arn:aws:s3:::app-bucket/",)),),
        ),
    )
    assert (a.multi_region, a.home_region) == (False, "us-east-1")

    # the verdicts these trails give
    both = list(settings.values())
    assert observability("lambda:InvokeFunction", both, region="us-east-1").observable
    assert not observability("kms:Decrypt", both, region="eu-west-1").observable
    assert observability("kms:Decrypt", both, region="us-east-1").observable  # the advanced one
    assert observability(
        "s3:GetObject", both, region="us-east-1", resource_arns=["arn:aws:s3:::app-bucket/k"]
    ).observable
    assert not observability(
        "s3:GetObject", both, region="us-east-1", resource_arns=["arn:aws:s3:::other/k"]
    ).observable


def test_fetch_without_names_reads_every_trail_including_shadow_trails(
    trails: tuple[AwsOptions, str, str],
) -> None:
    options, classic, advanced = trails
    names = {s.name for s in fetch_trail_settings(options)}
    assert {classic, advanced} <= names
    # From another region, only the multi-region trail is visible (as a shadow trail), and its
    # selectors are read in its home region.
    elsewhere = {
        s.name: s
        for s in fetch_trail_settings(
            AwsOptions(endpoint_url=options.endpoint_url, region="eu-west-1", max_attempts=0)
        )
    }
    assert classic in elsewhere and advanced not in elsewhere
    assert elsewhere[classic].home_region == "us-east-1"


def test_a_trail_never_given_selectors_is_the_cloudtrail_default(moto_server: str) -> None:
    options = AwsOptions(endpoint_url=moto_server, region="us-east-1", max_attempts=0)
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    make_aws_client("s3", options).create_bucket(Bucket=bucket)
    name = f"plain-{uuid.uuid4().hex[:8]}"
    make_aws_client("cloudtrail", options).create_trail(Name=name, S3BucketName=bucket)
    (settings,) = fetch_trail_settings(options, [name])
    assert (settings.management_read, settings.management_write, settings.data_selectors) == (
        True,
        True,
        (),
    )


def test_an_unknown_trail_is_a_source_error_naming_it(moto_server: str) -> None:
    options = AwsOptions(endpoint_url=moto_server, region="us-east-1", max_attempts=0)
    missing = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SourceError) as raised:
        fetch_trail_settings(options, [missing])
    assert str(raised.value) == f"CloudTrail trail(s) not found: {missing}"


def test_an_unreachable_endpoint_is_a_source_error() -> None:
    options = AwsOptions(endpoint_url="http://127.0.0.1:9", region="us-east-1", max_attempts=0)
    with pytest.raises(SourceError, match="CloudTrail DescribeTrails"):
        fetch_trail_settings(options)
