"""Could CloudTrail have shown an action: the table, trail settings in every shape, the verdict.

The verdict must err towards "not observable" (rightsizer/iam/observability.py): each case below
that says observable=False is one where "not seen" must not turn into "unused".
"""

from __future__ import annotations

from typing import Any

import pytest

from rightsizer.errors import ConfigError
from rightsizer.iam.catalog import catalog
from rightsizer.iam.observability import (
    DEFAULT_TRAIL,
    DataSelector,
    FieldCondition,
    TrailSettings,
    Visibility,
    _parse_table,
    _row_for,
    _table,
    action_visibility,
    observability,
    parse_event_selectors,
    settings_from_config,
)

ACCT = "111122223333"


# -- the table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "visibility", "data_type"),
    [
        # DOMAIN.md section 4, row by row
        ("logs:PutLogEvents", Visibility.NEVER, None),
        ("logs:GetLogEvents", Visibility.NEVER, None),
        ("logs:FilterLogEvents", Visibility.NEVER, None),
        ("firehose:PutRecord", Visibility.NEVER, None),
        ("firehose:PutRecordBatch", Visibility.NEVER, None),
        ("ssmmessages:CreateDataChannel", Visibility.NEVER, None),
        ("ssmmessages:OpenDataChannel", Visibility.NEVER, None),
        ("xray:GetSamplingRules", Visibility.NEVER, None),
        ("iam:PassRole", Visibility.INSIDE_OTHER_CALL, None),
        ("s3:GetObject", Visibility.DATA, "AWS::S3::Object"),
        ("s3:PutObject", Visibility.DATA, "AWS::S3::Object"),
        ("s3:ListBucket", Visibility.DATA, "AWS::S3::Object"),
        ("dynamodb:GetItem", Visibility.DATA, "AWS::DynamoDB::Table"),
        ("dynamodb:Query", Visibility.DATA, "AWS::DynamoDB::Table"),
        ("sqs:SendMessage", Visibility.DATA, "AWS::SQS::Queue"),
        ("sqs:GetQueueUrl", Visibility.DATA, "AWS::SQS::Queue"),
        ("sns:Publish", Visibility.DATA, "AWS::SNS::Topic"),
        ("lambda:InvokeFunction", Visibility.DATA, "AWS::Lambda::Function"),
        ("xray:PutTraceSegments", Visibility.DATA, "AWS::XRay::Trace"),
        ("kinesis:PutRecord", Visibility.DATA, "AWS::Kinesis::Stream"),
        ("kinesis:PutRecords", Visibility.DATA, "AWS::Kinesis::Stream"),
        ("ssmmessages:CreateControlChannel", Visibility.DATA, "AWS::SSMMessages::ControlChannel"),
        ("ssmmessages:OpenControlChannel", Visibility.DATA, "AWS::SSMMessages::ControlChannel"),
        ("ecr:BatchGetImage", Visibility.MANAGEMENT, None),
        ("ecr:GetAuthorizationToken", Visibility.MANAGEMENT, None),
        ("logs:CreateLogStream", Visibility.MANAGEMENT, None),
        ("logs:CreateLogGroup", Visibility.MANAGEMENT, None),
        ("ssm:GetParameters", Visibility.MANAGEMENT, None),
        ("secretsmanager:GetSecretValue", Visibility.MANAGEMENT, None),
        ("kms:Decrypt", Visibility.MANAGEMENT, None),
        ("sts:GetCallerIdentity", Visibility.NO_PERMISSION, None),
        ("sts:GetSessionToken", Visibility.NO_PERMISSION, None),
        ("dynamodb:DescribeEndpoints", Visibility.NO_PERMISSION, None),
        # patterns and their exceptions
        ("s3:GetObjectTagging", Visibility.DATA, "AWS::S3::Object"),
        ("S3:getobjectversion", Visibility.DATA, "AWS::S3::Object"),
        ("s3:GetBucketLocation", Visibility.MANAGEMENT, None),
        ("s3:GetBucketPolicy", Visibility.MANAGEMENT, None),
    ],
)
def test_domain_classes(action: str, visibility: Visibility, data_type: str | None) -> None:
    av = action_visibility(action)
    assert (av.visibility, av.data_resource_type) == (visibility, data_type)
    assert av.action == catalog().canonical(action)
    assert av.source


def test_every_table_row_names_catalog_actions_and_cites_a_source() -> None:
    for row in _table():
        assert catalog().expand(row.pattern), f"row {row.line}: {row.pattern} matches no action"
        assert "https://" in row.source, row.line


def test_an_exact_row_beats_a_pattern_and_a_longer_pattern_beats_a_shorter_one() -> None:
    text = "\n".join(
        [
            "# comment lines are skipped",
            "action,visibility,data_resource_type,read_only,source",
            "s3:Get*,never,,,short pattern",
            "s3:GetObject*,data,AWS::S3::Object,,long pattern",
            "s3:GetObjectAcl,management,,,exact",
        ]
    )
    rows = _parse_table(text, "t.csv")
    assert [r.line for r in rows] == [3, 4, 5]  # file lines, comments counted
    chosen = {
        a: _row_for(a, rows) for a in ("s3:GetObjectAcl", "s3:GetObjectTagging", "s3:GetBucketAcl")
    }
    assert {a: row.source if row else None for a, row in chosen.items()} == {
        "s3:GetObjectAcl": "exact",
        "s3:GetObjectTagging": "long pattern",
        "s3:GetBucketAcl": "short pattern",
    }
    assert _row_for("ec2:RunInstances", rows) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("action,visibility\ns3:GetObject,data", "columns must be"),
        (
            "action,visibility,data_resource_type,read_only,source\ns3:GetObject,data",
            "line 2: 2 fields",
        ),
        (
            "action,visibility,data_resource_type,read_only,source\ns3:GetObject,sometimes,,,x",
            "unknown visibility",
        ),
        (
            "action,visibility,data_resource_type,read_only,source\ns3:GetObject,data,,,x",
            "data_resource_type",
        ),
        (
            "action,visibility,data_resource_type,read_only,source\ns3:GetObject,never,AWS::S3::Object,,x",
            "data_resource_type",
        ),
        (
            "action,visibility,data_resource_type,read_only,source\nkms:Decrypt,management,,maybe,x",
            "read_only",
        ),
        (
            "action,visibility,data_resource_type,read_only,source\nkms:Decrypt,management,,,",
            "source",
        ),
    ],
)
def test_a_bad_table_row_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse_table(text, "t.csv")


@pytest.mark.parametrize(
    ("action", "read_only"),
    [
        ("s3:GetObject", True),  # read
        ("s3:ListBucket", True),  # list
        ("s3:PutObject", False),  # write
        ("kms:Decrypt", True),  # IAM says Write; CloudTrail records readOnly true (table override)
        ("kms:GenerateDataKey", True),
        ("kms:CreateGrant", False),  # permissions management
    ],
)
def test_read_only_is_the_access_level_unless_the_table_says_otherwise(
    action: str, read_only: bool
) -> None:
    assert action_visibility(action).read_only is read_only


def test_an_action_the_catalog_does_not_know_is_a_management_event_of_unknown_read_only() -> None:
    av = action_visibility("newservice:DoThing")
    assert (av.visibility, av.read_only) == (Visibility.MANAGEMENT, None)


@pytest.mark.parametrize("bad", ["s3", "s3:Get*", ""])
def test_action_visibility_refuses_non_actions(bad: str) -> None:
    with pytest.raises(ValueError):
        action_visibility(bad)


# -- trail settings -------------------------------------------------------------------------


def classic(**selector: Any) -> dict[str, Any]:
    return {
        "TrailARN": f"arn:aws:cloudtrail:eu-west-1:{ACCT}:trail/t",
        "EventSelectors": [selector],
    }


def advanced(*selectors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "AdvancedEventSelectors": [
            {"Name": f"s{i}", "FieldSelectors": fields} for i, fields in enumerate(selectors)
        ]
    }


def eq(field: str, *values: str) -> dict[str, Any]:
    return {"Field": field, "Equals": list(values)}


def test_classic_defaults_and_home_region_from_the_arn() -> None:
    t = parse_event_selectors(classic(), name="t", source="x")
    assert (t.management_read, t.management_write, t.data_selectors) == (True, True, ())
    assert (t.multi_region, t.home_region) == (True, "eu-west-1")


def test_classic_write_only_with_exclusions_and_data() -> None:
    t = parse_event_selectors(
        classic(
            ReadWriteType="WriteOnly",
            IncludeManagementEvents=True,
            ExcludeManagementEventSources=["kms.amazonaws.com", "rdsdata.amazonaws.com"],
            DataResources=[
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                {
                    "Type": "AWS::Lambda::Function",
                    "Values": [f"arn:aws:lambda:eu-west-1:{ACCT}:function:fn"],
                },
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::logs-bucket"]},
            ],
        ),
        name="t",
        source="x",
    )
    assert (t.management_read, t.management_write) == (False, True)
    assert t.excluded_management_sources == ("kms.amazonaws.com", "rdsdata.amazonaws.com")
    assert t.data_selectors == (
        DataSelector("AWS::S3::Object", False, True),
        DataSelector(
            "AWS::Lambda::Function",
            False,
            True,
            (FieldCondition("Equals", (f"arn:aws:lambda:eu-west-1:{ACCT}:function:fn",)),),
        ),
        # a bucket without its slash gets one, or it would also cover logs-bucket2
        DataSelector(
            "AWS::S3::Object",
            False,
            True,
            (FieldCondition("StartsWith", ("arn:aws:s3:::logs-bucket/",)),),
        ),
    )
    assert t.data_resource_types == ("AWS::Lambda::Function", "AWS::S3::Object")


def test_classic_data_only_selector_records_no_management_events() -> None:
    t = parse_event_selectors(
        classic(
            IncludeManagementEvents=False,
            DataResources=[{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::"]}],
        ),
        name="t",
        source="x",
    )
    assert (t.management_read, t.management_write) == (False, False)
    assert t.data_selectors == (DataSelector("AWS::S3::Object"),)


def test_several_classic_selectors_or_their_flags_and_union_their_exclusions() -> None:
    document = {
        "EventSelectors": [
            {"ReadWriteType": "ReadOnly", "ExcludeManagementEventSources": ["kms.amazonaws.com"]},
            {"ReadWriteType": "WriteOnly"},
        ]
    }
    t = parse_event_selectors(document, name="t", source="x")
    assert (t.management_read, t.management_write) == (True, True)
    assert t.excluded_management_sources == ("kms.amazonaws.com",)


def test_advanced_management_with_exclusions_and_data() -> None:
    t = parse_event_selectors(
        advanced(
            [
                eq("eventCategory", "Management"),
                {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
            ],
            [
                eq("eventCategory", "Data"),
                eq("resources.type", "AWS::S3::Object"),
                eq("readOnly", "true"),
            ],
            [
                eq("eventCategory", "Data"),
                eq("resources.type", "AWS::DynamoDB::Table"),
                {
                    "Field": "resources.ARN",
                    "StartsWith": [f"arn:aws:dynamodb:eu-west-1:{ACCT}:table/orders"],
                },
                {"Field": "eventName", "NotEquals": ["Scan"]},
            ],
        ),
        name="t",
        source="x",
    )
    assert (t.management_read, t.management_write) == (True, True)
    assert t.excluded_management_sources == ("kms.amazonaws.com",)
    assert t.data_selectors == (
        DataSelector("AWS::S3::Object", True, False),
        DataSelector(
            "AWS::DynamoDB::Table",
            True,
            True,
            (FieldCondition("StartsWith", (f"arn:aws:dynamodb:eu-west-1:{ACCT}:table/orders",)),),
            (FieldCondition("NotEquals", ("Scan",)),),
        ),
    )


def test_advanced_read_only_management() -> None:
    t = parse_event_selectors(
        advanced([eq("eventCategory", "Management"), eq("readOnly", "true")]), name="t", source="x"
    )
    assert (t.management_read, t.management_write) == (True, False)


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        (
            [
                eq("eventCategory", "Management"),
                {"Field": "userIdentity.arn", "NotStartsWith": ["x"]},
            ],
            "userIdentity.arn",
        ),
        (
            [
                eq("eventCategory", "Data"),
                eq("resources.type", "AWS::S3::Object"),
                eq("eventType", "AwsApiCall"),
            ],
            "eventType",
        ),
        ([eq("eventCategory", "Data")], "resources.type"),
        (
            [eq("eventCategory", "NetworkActivity"), eq("eventSource", "s3.amazonaws.com")],
            "not a management or data",
        ),
    ],
)
def test_a_selector_on_fields_not_modelled_is_ignored_with_a_note(
    fields: list[dict[str, Any]], note: str
) -> None:
    t = parse_event_selectors(advanced(fields), name="t", source="x")
    assert (t.management_read, t.management_write, t.data_selectors) == (False, False, ())
    assert any(note in n for n in t.notes)


def test_empty_selector_lists_are_the_cloudtrail_default() -> None:
    """moto answers a trail never given selectors with two empty lists."""
    t = parse_event_selectors(
        {"EventSelectors": [], "AdvancedEventSelectors": []}, name="t", source="trail arn:x"
    )
    assert (t.management_read, t.management_write, t.data_selectors) == (True, True, ())
    assert t.notes


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected an object"),
        ({"TrailARN": "x"}, "neither EventSelectors nor AdvancedEventSelectors"),
        ({"EventSelectors": {"ReadWriteType": "All"}}, "EventSelectors must be a list"),
        ({"EventSelectors": [{"ReadWriteType": "Sometimes"}]}, "ReadWriteType"),
        ({"EventSelectors": [{"IncludeManagementEvents": "yes"}]}, "IncludeManagementEvents"),
        (
            {"EventSelectors": [{"ExcludeManagementEventSources": "kms.amazonaws.com"}]},
            "list of strings",
        ),
        ({"EventSelectors": [{"DataResources": [{"Values": ["arn:aws:s3"]}]}]}, "Type"),
        ({"AdvancedEventSelectors": [{"Name": "a"}]}, "no FieldSelectors"),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Equals": ["Data"]}]}]}, "Field must be"),
        (
            {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory"}]}]},
            "no operator",
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": "Data"}]}
                ]
            },
            "list of strings",
        ),
    ],
)
def test_an_unreadable_document_is_a_config_error_naming_the_source(
    document: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_event_selectors(document, name="t", source="file trails.json")
    assert "file trails.json" in str(raised.value)


def test_settings_from_config() -> None:
    t = settings_from_config(
        {
            "name": "org",
            "management_events": "write",
            "exclude_sources": ["kms.amazonaws.com"],
            "data_events": [
                "AWS::S3::Object",
                {"type": "AWS::Lambda::Function", "read_write": "read"},
            ],
        }
    )
    assert t == TrailSettings(
        name="org",
        management_read=False,
        management_write=True,
        excluded_management_sources=("kms.amazonaws.com",),
        data_selectors=(
            DataSelector("AWS::S3::Object"),
            DataSelector("AWS::Lambda::Function", True, False),
        ),
        source="configuration",
    )


def test_settings_from_config_defaults_to_all_management_events() -> None:
    t = settings_from_config({})
    assert (t.management_read, t.management_write, t.data_selectors, t.source) == (
        True,
        True,
        (),
        "configuration",
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"management_events": "some"}, "management_events"),
        ({"exclude_sources": "kms.amazonaws.com"}, "exclude_sources"),
        ({"data_events": "AWS::S3::Object"}, "data_events must be a list"),
        ({"data_events": ["s3"]}, "data_events entries"),
        (
            {"data_events": [{"type": "AWS::S3::Object", "read_write": "both"}]},
            "data_events entries",
        ),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "unknown keys colour"),
        ({"multi_region": False}, "home_region"),
    ],
)
def test_settings_from_config_refuses_bad_values(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_config(mapping)


# -- the verdict ----------------------------------------------------------------------------


def trail(name: str = "t", **kwargs: Any) -> TrailSettings:
    base: dict[str, Any] = {
        "name": name,
        "management_read": True,
        "management_write": True,
        "excluded_management_sources": (),
        "data_selectors": (),
        "source": "test",
    }
    return TrailSettings(**{**base, **kwargs})


S3_ALL = DataSelector("AWS::S3::Object")
S3_BUCKET = DataSelector(
    "AWS::S3::Object", arn_conditions=(FieldCondition("StartsWith", ("arn:aws:s3:::b/",)),)
)
NO_EXCLUDE_SCAN = DataSelector(
    "AWS::DynamoDB::Table", event_name_conditions=(FieldCondition("NotEquals", ("Scan",)),)
)

VERDICTS = [
    # management events
    pytest.param(
        "ecr:BatchGetImage", [DEFAULT_TRAIL], {}, True, "management event", id="mgmt-default"
    ),
    pytest.param(
        "logs:CreateLogStream",
        [trail(management_read=False)],
        {},
        True,
        "management",
        id="mgmt-write-on-write-trail",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        [trail(management_read=False)],
        {},
        False,
        "does not record read-only",
        id="mgmt-read-on-write-trail",
    ),
    pytest.param(
        "logs:CreateLogStream",
        [trail(management_write=False)],
        {},
        False,
        "does not record write",
        id="mgmt-write-on-read-trail",
    ),
    pytest.param(
        "kms:Decrypt",
        [trail(management_read=False)],
        {},
        False,
        "read-only",
        id="kms-decrypt-is-read-only-in-cloudtrail",
    ),
    pytest.param(
        "kms:Decrypt",
        [trail(excluded_management_sources=("kms.amazonaws.com",))],
        {},
        False,
        "excludes kms.amazonaws.com",
        id="kms-excluded",
    ),
    pytest.param(
        "kms:Decrypt",
        [trail(excluded_management_sources=("rdsdata.amazonaws.com",))],
        {},
        True,
        "management",
        id="other-source-excluded",
    ),
    pytest.param(
        "cloudwatch:PutMetricData",
        [trail(excluded_management_sources=("monitoring.amazonaws.com",))],
        {},
        False,
        "monitoring.amazonaws.com",
        id="host-differs-from-prefix",
    ),
    pytest.param(
        "kms:Decrypt",
        [trail(excluded_management_sources=("kms.amazonaws.com",))],
        {"event_source": "kms.amazonaws.com"},
        False,
        "excludes",
        id="explicit-event-source",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        [trail(management_read=False, management_write=False)],
        {},
        False,
        "does not record",
        id="no-management",
    ),
    pytest.param("ecr:BatchGetImage", [], {}, False, "no trail", id="no-trails"),
    # several trails: any one suffices
    pytest.param(
        "kms:Decrypt",
        [trail("a", excluded_management_sources=("kms.amazonaws.com",)), trail("b")],
        {},
        True,
        "trail b",
        id="second-trail-records-it",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        [trail("a", management_read=False), trail("b", management_read=False)],
        {},
        False,
        "trail a does not record read-only management events; trail b",
        id="every-trail-explains",
    ),
    # data events
    pytest.param(
        "s3:GetObject",
        [DEFAULT_TRAIL],
        {},
        False,
        "data event (AWS::S3::Object) and no trail records it",
        id="data-not-selected",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_ALL,))],
        {},
        True,
        "data event (AWS::S3::Object)",
        id="data-selected",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(DataSelector("AWS::S3::Object", read=False),))],
        {},
        False,
        "write ones only",
        id="data-write-only",
    ),
    pytest.param(
        "s3:PutObject",
        [trail(data_selectors=(DataSelector("AWS::S3::Object", write=False),))],
        {},
        False,
        "read-only ones only",
        id="data-read-only",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_BUCKET,))],
        {},
        False,
        "resources are not given",
        id="data-some-resources-unknown-call",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_BUCKET,))],
        {"resource_arns": ["arn:aws:s3:::b/k"]},
        True,
        "data event",
        id="data-inside-selection",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_BUCKET,))],
        {"resource_arns": ["arn:aws:s3:::b2/k"]},
        False,
        "not all of these",
        id="data-outside-selection",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_BUCKET,))],
        {"resource_arns": ["arn:aws:s3:::b/*"]},
        True,
        "data event",
        id="data-pattern-inside",
    ),
    pytest.param(
        "s3:GetObject",
        [trail(data_selectors=(S3_BUCKET,))],
        {"resource_arns": ["arn:aws:s3:::*"]},
        False,
        "not all",
        id="data-pattern-undecided",
    ),
    pytest.param(
        "dynamodb:Scan",
        [trail(data_selectors=(NO_EXCLUDE_SCAN,))],
        {},
        False,
        "filters eventName",
        id="data-event-name-excluded",
    ),
    pytest.param(
        "dynamodb:GetItem",
        [trail(data_selectors=(NO_EXCLUDE_SCAN,))],
        {},
        True,
        "data event",
        id="data-event-name-kept",
    ),
    pytest.param(
        "s3:GetObject",
        [
            trail(
                data_selectors=(
                    DataSelector(
                        "AWS::S3::Object",
                        event_name_conditions=(FieldCondition("Equals", ("GetObject",)),),
                    ),
                )
            )
        ],
        {"event_names": ["GetObject", "HeadObject"]},
        False,
        "HeadObject",
        id="data-event-names-given",
    ),
    pytest.param(
        "lambda:InvokeFunction",
        [trail(data_selectors=(S3_ALL,))],
        {},
        False,
        "does not select AWS::Lambda::Function",
        id="data-other-type-selected",
    ),
    # classes CloudTrail never shows as the permission's own event
    pytest.param(
        "logs:PutLogEvents",
        [trail(data_selectors=(S3_ALL,))],
        {},
        False,
        "never logged",
        id="never",
    ),
    pytest.param(
        "firehose:PutRecordBatch", [DEFAULT_TRAIL], {}, False, "never logged", id="never-firehose"
    ),
    pytest.param(
        "iam:PassRole", [DEFAULT_TRAIL], {}, False, "checked inside another call", id="passrole"
    ),
    pytest.param(
        "sts:GetCallerIdentity",
        [DEFAULT_TRAIL],
        {},
        False,
        "needs no permission",
        id="no-permission",
    ),
    # single-region trails
    pytest.param(
        "ecr:BatchGetImage",
        [trail(multi_region=False, home_region="eu-west-1")],
        {"region": "eu-west-1"},
        True,
        "management",
        id="region-home",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        [trail(multi_region=False, home_region="eu-west-1")],
        {"region": "us-east-1"},
        False,
        "records only eu-west-1, not us-east-1",
        id="region-other",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        [trail(multi_region=False, home_region="eu-west-1")],
        {},
        False,
        "region is not given",
        id="region-unknown",
    ),
]


@pytest.mark.parametrize(("action", "trails", "kwargs", "observable", "reason"), VERDICTS)
def test_observability(
    action: str, trails: list[TrailSettings], kwargs: dict[str, Any], observable: bool, reason: str
) -> None:
    verdict = observability(action, trails, **kwargs)
    assert verdict.observable is observable, verdict.reason
    assert reason in verdict.reason
    assert verdict.action == catalog().canonical(action)


def test_notes_of_an_approximated_trail_appear_in_the_reason() -> None:
    t = parse_event_selectors(
        advanced(
            [
                eq("eventCategory", "Management"),
                {"Field": "userIdentity.arn", "NotStartsWith": ["arn:aws:sts::1:assumed-role/ci"]},
            ]
        ),
        name="filtered",
        source="x",
    )
    verdict = observability("ecr:BatchGetImage", [t])
    assert not verdict.observable
    assert "userIdentity.arn" in verdict.reason


def test_parsed_settings_drive_the_verdict_end_to_end() -> None:
    t = parse_event_selectors(
        classic(
            ReadWriteType="All",
            ExcludeManagementEventSources=["kms.amazonaws.com"],
            DataResources=[{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
        ),
        name="t",
        source="x",
    )
    assert observability("lambda:InvokeFunction", [t]).observable
    assert observability("secretsmanager:GetSecretValue", [t]).observable
    assert not observability("kms:Decrypt", [t]).observable
    assert not observability("sqs:SendMessage", [t]).observable


def test_no_permission_rows_agree_with_the_event_mapping() -> None:
    """observability.csv and no_permission.csv say the same about calls that need no permission."""
    from rightsizer.iam.actions import event_actions, load_tables
    from rightsizer.iam.actions import service_prefix as prefix_of

    mapped = {
        f"{prefix_of(host)}:{name}".lower()
        for host, name in load_tables().no_permission
        if event_actions(host, name).status == "no_permission"
    }
    visible = {
        info.key.lower()
        for name in mapped
        if (info := catalog().action(name)) is not None
        and action_visibility(info.key).visibility is Visibility.NO_PERMISSION
    }
    assert mapped and visible == mapped


def test_every_data_table_cites_pages_a_reader_can_open() -> None:
    """Reports show a row's source as the reason a permission is kept: it must be a public page,
    never the project's own notes (issue 14)."""
    import csv
    from pathlib import Path

    import rightsizer

    package = Path(rightsizer.__file__).parent
    tables = sorted(package.glob("*/data/*.csv"))
    assert len(tables) >= 7
    for table in tables:
        if table.name == "unmapped_operations.csv":  # read by a test only, never shown
            continue
        lines = [line for line in table.read_text(encoding="utf-8").splitlines()
                 if not line.startswith("#")]
        for number, row in enumerate(csv.DictReader(lines), start=2):
            assert "https://" in row["source"], f"{table.name}:{number}: {row['source']}"
            assert ".md section" not in row["source"], f"{table.name}:{number}"
