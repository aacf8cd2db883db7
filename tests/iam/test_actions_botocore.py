"""Every operation of the services ECS roles commonly use maps to IAM, or is a listed exception.

The botocore service models are the list of calls that can show up in CloudTrail (DESIGN.md: "Keep
the mapping as data with a test over every botocore operation"). Each operation must map to
actions the catalog knows, need no permission, or be in ``data/unmapped_operations.csv`` with its
reason. The exceptions table is kept honest the other way too: a row that now maps must go.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import botocore.session
import pytest

from rightsizer.iam.actions import event_actions
from rightsizer.iam.catalog import catalog

DATA = Path(str(resources.files("rightsizer.iam") / "data"))

# botocore service names (not IAM prefixes): Step Functions is "stepfunctions", EFS is "efs".
SERVICES = (
    "s3",
    "ecr",
    "logs",
    "secretsmanager",
    "ssm",
    "kms",
    "sqs",
    "sns",
    "dynamodb",
    "dynamodbstreams",
    "lambda",
    "kinesis",
    "firehose",
    "sts",
    "xray",
    "ecs",
    "cloudwatch",
    "events",
    "stepfunctions",
    "athena",
    "glue",
    "ses",
    "sesv2",
    "efs",
)
# ssmmessages (ECS Exec's channels) has no botocore model: only the SSM agent calls it. Its four
# operations are checked by name below instead.
SSMMESSAGES = ("CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel")

# CloudTrail eventSource = botocore endpoint_prefix + ".amazonaws.com", except where the endpoint
# host is not what CloudTrail records. ECR's API host is api.ecr but its records say
# ecr.amazonaws.com (DOMAIN.md section 2); SES and SESv2 share the "email" endpoint, and CloudTrail
# delivers their events as ses.amazonaws.com (EventBridge reference, "Amazon SES events delivered
# via AWS CloudTrail"). monitoring.amazonaws.com and streams.dynamodb.amazonaws.com are real
# eventSources: the walk goes through service_prefixes.csv for them.
EVENT_SOURCE_EXCEPTIONS = {
    "api.ecr": "ecr.amazonaws.com",
    "email": "ses.amazonaws.com",
}


@pytest.fixture(scope="module")
def session() -> botocore.session.Session:
    return botocore.session.get_session()


def _event_source(model: botocore.model.ServiceModel) -> str:
    prefix = model.endpoint_prefix
    return EVENT_SOURCE_EXCEPTIONS.get(prefix, f"{prefix}.amazonaws.com")


def _exceptions() -> dict[tuple[str, str], dict[str, str]]:
    with (DATA / "unmapped_operations.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["service", "operation", "reason", "source"]
        rows: dict[tuple[str, str], dict[str, str]] = {}
        for row in reader:
            key = (row["service"], row["operation"])
            assert key not in rows, f"unmapped_operations.csv:{reader.line_num}: duplicate {key}"
            assert row["reason"].strip(), f"unmapped_operations.csv:{reader.line_num}: no reason"
            assert row["source"].strip(), f"unmapped_operations.csv:{reader.line_num}: no source"
            rows[key] = row
        return rows


def _model(session: botocore.session.Session, service: str) -> botocore.model.ServiceModel:
    assert service in session.get_available_services(), (
        f"botocore {botocore.__version__} has no {service} model: fix SERVICES")
    return session.get_service_model(service)


@pytest.mark.parametrize("operation", SSMMESSAGES)
def test_ecs_exec_channels_map(operation: str) -> None:
    got = event_actions("ssmmessages.amazonaws.com", operation)
    assert got.status == "mapped" and got.actions == (f"ssmmessages:{operation}",)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_maps_or_is_a_listed_exception(
    session: botocore.session.Session, service: str
) -> None:
    model = _model(session, service)
    source = _event_source(model)
    exceptions = _exceptions()
    cat = catalog()
    offenders = []
    for operation in model.operation_names:
        got = event_actions(source, operation)
        if got.status == "mapped":
            unknown = [action for action in got.actions if cat.canonical(action) != action]
            if unknown:
                offenders.append(f"{operation}: maps to {unknown}, which the catalog does not know")
        elif got.status == "unmapped" and (service, operation) not in exceptions:
            offenders.append(f"{operation}: {got.rule}")
    assert not offenders, (
        f"{len(offenders)} {service} operation(s) ({source}) map to no IAM action; add a cited row"
        " to event_actions.csv, or to unmapped_operations.csv if IAM has no action for it:\n  "
        + "\n  ".join(offenders)
    )


def test_every_exception_is_still_needed(session: botocore.session.Session) -> None:
    """A listed operation that now maps (say, after a catalog bump) must leave the list."""
    available = set(session.get_available_services())
    stale = []
    for service, operation in sorted(_exceptions()):
        if service not in SERVICES or service not in available:
            stale.append(f"{service}.{operation}: service not walked")
            continue
        model = session.get_service_model(service)
        if operation not in model.operation_names:
            stale.append(
                f"{service}.{operation}: botocore {botocore.__version__} has no such operation"
            )
            continue
        got = event_actions(_event_source(model), operation)
        if got.status != "unmapped":
            stale.append(f"{service}.{operation}: now {got.status} by {got.rule} -> {got.actions}")
    assert not stale, "unmapped_operations.csv rows no longer needed:\n  " + "\n  ".join(stale)


def test_the_walk_covers_the_domain_examples(session: botocore.session.Session) -> None:
    """The eventSource derivation reaches the special cases of DOMAIN.md section 5."""
    sources = {
        service: _event_source(session.get_service_model(service))
        for service in ("cloudwatch", "ecr", "dynamodbstreams", "ses")
    }
    assert sources == {
        "cloudwatch": "monitoring.amazonaws.com",
        "ecr": "ecr.amazonaws.com",
        "dynamodbstreams": "streams.dynamodb.amazonaws.com",
        "ses": "ses.amazonaws.com",
    }
    assert event_actions(sources["cloudwatch"], "PutMetricData").actions == (
        "cloudwatch:PutMetricData",
    )
    assert event_actions(sources["dynamodbstreams"], "GetRecords").actions == (
        "dynamodb:GetRecords",
    )
