"""CloudTrail (eventSource, eventName) -> the IAM actions the call needed (DOMAIN.md section 5)."""

from __future__ import annotations

import csv
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from rightsizer.errors import RightsizerError
from rightsizer.iam.actions import (
    EventActions,
    MappingTableError,
    event_actions,
    load_tables,
    mapping_tables_version,
    service_prefix,
)
from rightsizer.iam.catalog import catalog

DATA = Path(str(resources.files("rightsizer.iam") / "data"))


# -- every rule, on the examples DOMAIN.md gives --------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "actions"),
    [
        # DOMAIN.md section 5: names differ
        ("s3.amazonaws.com", "HeadObject", ("s3:GetObject",)),
        ("s3.amazonaws.com", "HeadBucket", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "ListObjects", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "ListObjectsV2", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "ListObjectVersions", ("s3:ListBucketVersions",)),
        ("s3.amazonaws.com", "CreateMultipartUpload", ("s3:PutObject",)),
        ("s3.amazonaws.com", "UploadPart", ("s3:PutObject",)),
        ("s3.amazonaws.com", "CompleteMultipartUpload", ("s3:PutObject",)),
        ("s3.amazonaws.com", "UploadPartCopy", ("s3:GetObject", "s3:PutObject")),
        ("s3.amazonaws.com", "CopyObject", ("s3:GetObject", "s3:PutObject")),
        ("s3.amazonaws.com", "ListParts", ("s3:ListMultipartUploadParts",)),
        ("s3.amazonaws.com", "GetObjectAttributes", ("s3:GetObject", "s3:GetObjectAttributes")),
        ("s3.amazonaws.com", "SelectObjectContent", ("s3:GetObject",)),
        ("s3.amazonaws.com", "DeleteObjects", ("s3:DeleteObject",)),
        ("s3.amazonaws.com", "ListBuckets", ("s3:ListAllMyBuckets",)),
        ("s3.amazonaws.com", "DeleteBucketCors", ("s3:PutBucketCORS",)),
        (
            "s3.amazonaws.com",
            "PutBucketReplication",
            ("iam:PassRole", "s3:PutReplicationConfiguration"),
        ),
        ("lambda.amazonaws.com", "Invoke", ("lambda:InvokeFunction",)),
        ("lambda.amazonaws.com", "InvokeWithResponseStream", ("lambda:InvokeFunction",)),
        ("kms.amazonaws.com", "ReEncrypt", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
        ("sqs.amazonaws.com", "SendMessageBatch", ("sqs:SendMessage",)),
        ("sqs.amazonaws.com", "DeleteMessageBatch", ("sqs:DeleteMessage",)),
        ("sqs.amazonaws.com", "ChangeMessageVisibilityBatch", ("sqs:ChangeMessageVisibility",)),
        ("sns.amazonaws.com", "PublishBatch", ("sns:Publish",)),
        ("dynamodb.amazonaws.com", "TransactGetItems", ("dynamodb:GetItem",)),
        (
            "dynamodb.amazonaws.com",
            "TransactWriteItems",
            (
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
        ),
        (
            "dynamodb.amazonaws.com",
            "ExecuteStatement",
            (
                "dynamodb:PartiQLDelete",
                "dynamodb:PartiQLInsert",
                "dynamodb:PartiQLSelect",
                "dynamodb:PartiQLUpdate",
            ),
        ),
    ],
)
def test_explicit_rows(source: str, name: str, actions: tuple[str, ...]) -> None:
    got = event_actions(source, name)
    assert got.status == "mapped"
    assert got.mapped
    assert got.actions == actions
    assert re.fullmatch(r"event_actions\.csv:\d+", got.rule)
    assert got.source  # every row cites where it comes from


@pytest.mark.parametrize(
    ("source", "name", "actions"),
    [
        # Same name in CloudTrail and IAM: the default rule, spelled as IAM spells it.
        ("s3.amazonaws.com", "GetObject", ("s3:GetObject",)),
        ("s3.amazonaws.com", "PutObject", ("s3:PutObject",)),
        ("s3.amazonaws.com", "PutObjectAcl", ("s3:PutObjectAcl",)),
        ("s3.amazonaws.com", "AbortMultipartUpload", ("s3:AbortMultipartUpload",)),
        ("s3.amazonaws.com", "GetBucketLocation", ("s3:GetBucketLocation",)),
        ("ecr.amazonaws.com", "GetAuthorizationToken", ("ecr:GetAuthorizationToken",)),
        ("ecr.amazonaws.com", "BatchGetImage", ("ecr:BatchGetImage",)),
        ("ecr.amazonaws.com", "GetDownloadUrlForLayer", ("ecr:GetDownloadUrlForLayer",)),
        ("logs.amazonaws.com", "CreateLogStream", ("logs:CreateLogStream",)),
        ("secretsmanager.amazonaws.com", "GetSecretValue", ("secretsmanager:GetSecretValue",)),
        ("ssm.amazonaws.com", "GetParameter", ("ssm:GetParameter",)),
        ("ssm.amazonaws.com", "GetParameters", ("ssm:GetParameters",)),
        ("ssm.amazonaws.com", "GetParametersByPath", ("ssm:GetParametersByPath",)),
        ("kms.amazonaws.com", "Decrypt", ("kms:Decrypt",)),
        ("sts.amazonaws.com", "AssumeRole", ("sts:AssumeRole",)),
        ("ecs.amazonaws.com", "RunTask", ("ecs:RunTask",)),
        ("sns.amazonaws.com", "Publish", ("sns:Publish",)),
        ("sqs.amazonaws.com", "ReceiveMessage", ("sqs:ReceiveMessage",)),
        ("dynamodb.amazonaws.com", "BatchGetItem", ("dynamodb:BatchGetItem",)),
        ("dynamodb.amazonaws.com", "BatchWriteItem", ("dynamodb:BatchWriteItem",)),
        ("lambda.amazonaws.com", "InvokeAsync", ("lambda:InvokeAsync",)),
        ("xray.amazonaws.com", "PutTraceSegments", ("xray:PutTraceSegments",)),
        ("firehose.amazonaws.com", "PutRecordBatch", ("firehose:PutRecordBatch",)),
        ("kinesis.amazonaws.com", "PutRecords", ("kinesis:PutRecords",)),
        ("ses.amazonaws.com", "SendEmail", ("ses:SendEmail",)),
        # Rule 3: the host is not the prefix (DOMAIN.md section 5).
        ("monitoring.amazonaws.com", "PutMetricData", ("cloudwatch:PutMetricData",)),
        ("email.amazonaws.com", "SendRawEmail", ("ses:SendRawEmail",)),
        ("streams.dynamodb.amazonaws.com", "GetRecords", ("dynamodb:GetRecords",)),
        ("tagging.amazonaws.com", "GetResources", ("tag:GetResources",)),
        # Case differences in eventName and eventSource.
        ("s3.amazonaws.com", "getobject", ("s3:GetObject",)),
        ("S3.AmazonAWS.com", "GETOBJECT", ("s3:GetObject",)),
        (" s3.amazonaws.com ", " GetObject ", ("s3:GetObject",)),
        # An eventSource without the .amazonaws.com suffix.
        ("s3", "GetObject", ("s3:GetObject",)),
        ("monitoring", "PutMetricData", ("cloudwatch:PutMetricData",)),
    ],
)
def test_default_rule(source: str, name: str, actions: tuple[str, ...]) -> None:
    got = event_actions(source, name)
    assert (got.status, got.actions, got.rule, got.source) == ("mapped", actions, "default", "")
    assert (got.event_source, got.event_name) == (source, name)  # echoed as given


def test_explicit_rows_are_case_insensitive() -> None:
    assert event_actions("s3.amazonaws.com", "headobject") == EventActions(
        "s3.amazonaws.com",
        "headobject",
        "mapped",
        ("s3:GetObject",),
        event_actions("s3.amazonaws.com", "HeadObject").rule,
        event_actions("s3.amazonaws.com", "HeadObject").source,
    )


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("sts.amazonaws.com", "GetCallerIdentity"),
        ("sts.amazonaws.com", "GetSessionToken"),
        ("dynamodb.amazonaws.com", "DescribeEndpoints"),
        ("sts.amazonaws.com", "getcalleridentity"),
        ("sts", "GetCallerIdentity"),
    ],
)
def test_no_permission(source: str, name: str) -> None:
    """DOMAIN.md section 4: these calls need no permission, even though IAM names them."""
    got = event_actions(source, name)
    assert got.status == "no_permission"
    assert got.actions == ()
    assert re.fullmatch(r"no_permission\.csv:\d+", got.rule)
    assert got.source.startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize(
    ("name", "action", "suffix"),
    [
        ("GetFunction20150331v2", "lambda:GetFunction", "20150331v2"),
        ("ListFunctions20150331", "lambda:ListFunctions", "20150331"),
        (
            "UpdateFunctionConfiguration20150331v2",
            "lambda:UpdateFunctionConfiguration",
            "20150331v2",
        ),
        ("UpdateFunctionCode20150331v2", "lambda:UpdateFunctionCode", "20150331v2"),
        ("AddPermission20150331v2", "lambda:AddPermission", "20150331v2"),
        ("ListTags20170331", "lambda:ListTags", "20170331"),
        ("PublishLayerVersion20181031", "lambda:PublishLayerVersion", "20181031"),
    ],
)
def test_lambda_version_suffix(name: str, action: str, suffix: str) -> None:
    got = event_actions("lambda.amazonaws.com", name)
    assert got.status == "mapped"
    assert got.actions == (action,)
    assert got.rule == f"default (version suffix {suffix} stripped)"
    assert "stratus-red-team" in got.source


def test_version_suffix_reaches_explicit_rows_too() -> None:
    got = event_actions("lambda.amazonaws.com", "GetLayerVersionByArn20181031")
    assert got.actions == ("lambda:GetLayerVersion",)
    assert got.rule.startswith("event_actions.csv:")
    assert got.rule.endswith("(version suffix 20181031 stripped)")


def test_version_suffix_is_not_stripped_when_the_rest_is_no_action() -> None:
    got = event_actions("lambda.amazonaws.com", "MadeUp20150331v2")
    assert got.status == "unmapped"
    assert got.rule == "unmapped: lambda:MadeUp20150331v2 is not an IAM action"


@pytest.mark.parametrize(
    ("statement", "action"),
    [
        ("SELECT * FROM Music WHERE Artist = ?", "dynamodb:PartiQLSelect"),
        ("  select * from Music", "dynamodb:PartiQLSelect"),
        ('INSERT INTO Music VALUE {"Artist": ?}', "dynamodb:PartiQLInsert"),
        ("UPDATE Music SET AwardsWon = 1 WHERE Artist = ?", "dynamodb:PartiQLUpdate"),
        ("DELETE FROM Music WHERE Artist = ?", "dynamodb:PartiQLDelete"),
        ("(SELECT * FROM Music)", "dynamodb:PartiQLSelect"),
    ],
)
@pytest.mark.parametrize(
    "name", ["ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"]
)
def test_partiql_statement_picks_one_action(name: str, statement: str, action: str) -> None:
    got = event_actions("dynamodb.amazonaws.com", name, statement=statement)
    assert got.actions == (action,)
    verb = action.removeprefix("dynamodb:PartiQL").upper()
    assert got.rule.endswith(f"(statement: {verb})")


@pytest.mark.parametrize("statement", [None, "", "EXISTS(SELECT 1)", "  ", "42", "VALUE"])
def test_partiql_without_a_known_verb_keeps_all_four(statement: str | None) -> None:
    got = event_actions("dynamodb.amazonaws.com", "ExecuteStatement", statement=statement)
    assert len(got.actions) == 4
    assert "statement" not in got.rule


def test_statement_is_ignored_for_other_events() -> None:
    assert event_actions("s3.amazonaws.com", "GetObject", statement="DELETE FROM x") == (
        event_actions("s3.amazonaws.com", "GetObject")
    )


@pytest.mark.parametrize(
    ("source", "name", "why"),
    [
        ("s3.amazonaws.com", "NoSuchCall", "s3:NoSuchCall is not an IAM action"),
        ("notaservice.amazonaws.com", "GetThing", "unknown service prefix notaservice"),
        ("signin.amazonaws.com", "ConsoleLogin", "signin:ConsoleLogin is not an IAM action"),
        ("runtime.sagemaker.amazonaws.com", "InvokeEndpoint", "unknown service prefix runtime"),
        ("", "GetObject", "empty eventSource"),
        ("   ", "GetObject", "empty eventSource"),
        ("s3.amazonaws.com", "", "empty eventName"),
        ("s3.amazonaws.com", "   ", "empty eventName"),
        ("", "", "empty eventSource"),
        ("s3.amazonaws.com", "s3:GetObject", "s3:s3:GetObject is not an IAM action"),
        ("s3.amazonaws.com", "Get*", "s3:Get* is not an IAM action"),
        ("s3.amazonaws.com", "Get Object", "s3:Get Object is not an IAM action"),
    ],
)
def test_unmapped_is_reported_never_guessed(source: str, name: str, why: str) -> None:
    got = event_actions(source, name)
    assert got == EventActions(source, name, "unmapped", (), f"unmapped: {why}", "")
    assert not got.mapped


@pytest.mark.parametrize("bad", [None, 42, 3.5, b"s3.amazonaws.com", ("s3",), ["s3"], {"a": 1}])
def test_odd_input_never_raises(bad: object) -> None:
    got = event_actions(bad, "GetObject")  # type: ignore[arg-type]
    assert got.status == "unmapped"
    got = event_actions("s3.amazonaws.com", bad)  # type: ignore[arg-type]
    assert got.status == "unmapped"
    got = event_actions("dynamodb.amazonaws.com", "ExecuteStatement", statement=bad)  # type: ignore[arg-type]
    assert len(got.actions) == 4
    assert service_prefix(bad) is None  # type: ignore[arg-type]


# -- service_prefix -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        ("monitoring.amazonaws.com", "cloudwatch"),
        ("email.amazonaws.com", "ses"),
        ("streams.dynamodb.amazonaws.com", "dynamodb"),
        ("tagging.amazonaws.com", "tag"),
        ("appstream2.amazonaws.com", "appstream"),
        ("models.lex.amazonaws.com", "lex"),
        ("runtime.lex.amazonaws.com", "lex"),
        ("mturk-requester.amazonaws.com", "mechanicalturk"),
        ("s3.amazonaws.com", "s3"),
        ("ecr.amazonaws.com", "ecr"),
        ("elasticfilesystem.amazonaws.com", "elasticfilesystem"),
        ("states.amazonaws.com", "states"),
        ("MONITORING.amazonaws.com", "cloudwatch"),
        ("monitoring", "cloudwatch"),
        ("kms", "kms"),
        ("notaservice.amazonaws.com", None),
        ("", None),
    ],
)
def test_service_prefix(source: str, prefix: str | None) -> None:
    assert service_prefix(source) == prefix


# -- the tables -----------------------------------------------------------------------------------


def _rows(name: str) -> list[tuple[int, dict[str, str]]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


def test_every_packaged_row_is_valid_and_loaded() -> None:
    tables = load_tables()
    assert len(tables.event_actions) == len(_rows("event_actions.csv"))
    assert len(tables.no_permission) == len(_rows("no_permission.csv"))
    assert len(tables.service_prefixes) == len(_rows("service_prefixes.csv"))
    for row in tables.event_actions.values():
        assert row.source
        assert row.actions == tuple(sorted(row.actions))
        for action in row.actions:
            assert catalog().canonical(action) == action, row.rule


def test_every_row_is_used_by_its_own_lookup() -> None:
    """Each row answers the lookup of its own key, with its own line number."""
    for line, row in _rows("event_actions.csv"):
        got = event_actions(row["event_source"], row["event_name"])
        assert got.rule == f"event_actions.csv:{line}"
        assert got.actions == tuple(sorted(row["actions"].split()))
        assert got.source == row["source"]
    for line, row in _rows("no_permission.csv"):
        got = event_actions(row["event_source"], row["event_name"])
        assert (got.status, got.rule) == ("no_permission", f"no_permission.csv:{line}")


def test_no_row_only_repeats_the_default() -> None:
    """A row whose answer the default rule gives anyway is noise: it hides real special cases."""
    redundant = []
    for line, row in _rows("event_actions.csv"):
        prefix = service_prefix(row["event_source"])
        default = catalog().canonical(f"{prefix}:{row['event_name']}")
        if default is not None and row["actions"].split() == [default]:
            redundant.append(f"event_actions.csv:{line} {row['event_name']}")
    assert not redundant, redundant


def test_prefix_rows_differ_from_the_first_label() -> None:
    for line, row in _rows("service_prefixes.csv"):
        assert row["event_source"].split(".")[0] != row["iam_prefix"], line


def test_version() -> None:
    version = mapping_tables_version()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version)
    assert version in (DATA / "README.md").read_text(encoding="utf-8")


# -- validation of broken tables ------------------------------------------------------------------


@pytest.fixture
def tables_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(DATA, folder)
    return folder


def _append(folder: Path, name: str, line: str) -> int:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text + line + "\n", encoding="utf-8")
    return text.count("\n") + 1


EA, NP, SP = "event_actions.csv", "no_permission.csv", "service_prefixes.csv"


@pytest.mark.parametrize(
    ("name", "line", "problem"),
    [
        (EA, "s3.amazonaws.com,FooBar,s3:NoSuchAction,https://x,", "is not an IAM action"),
        (EA, "s3.amazonaws.com,FooBar,s3:getobject,https://x,", "as IAM spells it"),
        (EA, "s3.amazonaws.com,FooBar,GetObject,https://x,", "is not an IAM action"),
        (EA, "s3.amazonaws.com,FooBar,s3:GetObject,,", "must cite a source"),
        (EA, "s3.amazonaws.com,FooBar,,https://x,", "no actions"),
        (EA, "s3.amazonaws.com,FooBar,s3:GetObject s3:GetObject,https://x,", "twice"),
        (EA, "s3.amazonaws.com,HeadObject,s3:GetObject,https://x,", "duplicate of line"),
        (EA, "sts.amazonaws.com,GetCallerIdentity,sts:GetCallerIdentity,https://x,", "also listed"),
        (EA, "S3.amazonaws.com,FooBar,s3:GetObject,https://x,", "lower-case AWS host"),
        (EA, "s3.amazonaws.com,Foo Bar,s3:GetObject,https://x,", "not an API name"),
        (EA, "s3.amazonaws.com,FooBar,s3:GetObject", "columns"),
        (NP, "sts.amazonaws.com,GetCallerIdentity,https://x,", "duplicate of line"),
        (SP, "example.amazonaws.com,notaprefix,https://x", "not an IAM service prefix"),
        (SP, "monitoring.amazonaws.com,cloudwatch,https://x", "duplicate of line"),
    ],
)
def test_a_bad_row_is_named(tables_copy: Path, name: str, line: str, problem: str) -> None:
    number = _append(tables_copy, name, line)
    with pytest.raises(MappingTableError, match=re.escape(f"{name}:{number}:")) as caught:
        load_tables(tables_copy)
    assert problem in str(caught.value)
    assert isinstance(caught.value, RightsizerError)


def test_a_bad_header_is_named(tables_copy: Path) -> None:
    path = tables_copy / "event_actions.csv"
    path.write_text("source,name\n", encoding="utf-8")
    with pytest.raises(MappingTableError, match=r"event_actions\.csv:1: header"):
        load_tables(tables_copy)


def test_a_missing_table_is_named(tables_copy: Path) -> None:
    (tables_copy / "service_prefixes.csv").unlink()
    with pytest.raises(MappingTableError, match=r"service_prefixes\.csv"):
        load_tables(tables_copy)


def test_an_empty_version_is_refused(tables_copy: Path) -> None:
    (tables_copy / "VERSION").write_text("\n", encoding="utf-8")
    with pytest.raises(MappingTableError, match="VERSION"):
        load_tables(tables_copy)


def test_blank_lines_are_skipped(tables_copy: Path) -> None:
    _append(tables_copy, "event_actions.csv", "")
    assert load_tables(tables_copy).event_actions == load_tables().event_actions


# -- determinism and caching ----------------------------------------------------------------------


def test_cached_calls_return_the_same_object() -> None:
    first = event_actions("s3.amazonaws.com", "HeadObject")
    assert event_actions("s3.amazonaws.com", "HeadObject") is first
    one = event_actions("dynamodb.amazonaws.com", "ExecuteStatement", statement="SELECT 1")
    two = event_actions("dynamodb.amazonaws.com", "ExecuteStatement", statement="select 2")
    assert one is two  # cached per verb, not per statement text


def test_answers_are_deterministic_and_hashable() -> None:
    keys = [(row["event_source"], row["event_name"]) for _, row in _rows("event_actions.csv")]
    first = [event_actions(*key) for key in keys]
    again = [event_actions(*key) for key in reversed(keys)][::-1]
    assert first == again
    assert len({hash(answer) for answer in first}) == len(set(first))
    for answer in first:
        assert answer.actions == tuple(sorted(answer.actions))
        with pytest.raises(AttributeError):
            answer.status = "unmapped"  # type: ignore[misc]
