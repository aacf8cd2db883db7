"""Typed records the store hands out. Plain frozen data: the layers above never see a connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class EcsAssumption:
    """ECS assumed this role for tasks: how often, in how many task sessions, and when."""

    role_arn: str
    assumptions: int
    sessions: int
    first_seen: datetime
    last_seen: datetime
    regions: tuple[str, ...] = ()  # where ECS assumed it, sorted
    days: tuple[date, ...] = ()  # the days (UTC) it did, sorted


@dataclass(frozen=True, slots=True)
class AssumeRoleFailure:
    """ECS failed to assume this role for tasks (``assume_role_failures.sql``)."""

    role_arn: str
    region: str
    account: str
    error_code: str
    failures: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class IamChangeEvent:
    """A successful IAM call that changes a role or a managed policy (``role_changes.sql``)."""

    time: datetime  # UTC
    name: str  # PutRolePolicy, AttachRolePolicy, ...
    actor: str  # the caller's ARN as logged (the sts form for a role session)
    actor_type: str  # IAMUser, AssumedRole, Root, AWSService, ...
    session_name: str
    source_ip: str
    user_agent: str
    request: dict[str, Any]
    event_id: str


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """What the logs read cover on one day of one account and region
    (``queries/duckdb/analysis/coverage.sql``)."""

    account: str
    region: str  # "*": every region of an Athena table (the query read them all)
    day: date
    hours: tuple[int, ...] | None  # the hours (UTC) with events; None when unknown (Athena)
    events: int


@dataclass(frozen=True, slots=True)
class DataEventSeen:
    """Data events of one resource type, scope (an S3 bucket, else a resource ARN) and
    read/write class in the logs (``queries/duckdb/analysis/data_events.sql``)."""

    resource_type: str  # "AWS::S3::Object"
    scope: str  # "arn:aws:s3:::BUCKET/" or the resource's ARN
    read_only: bool
    events: int


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """A successful call that changed what a trail records (``trail_events.sql``)."""

    time: str  # ISO 8601, UTC
    name: str  # PutEventSelectors, CreateTrail, UpdateTrail, DeleteTrail, Start/StopLogging
    trail: str  # the trail's name or ARN as the request gave it
    request: dict[str, Any]


class UsageRow(NamedTuple):
    """What one role did: one principal x eventSource x eventName x region x account x resource x
    day x error class x invokedBy, aggregated (``queries/duckdb/analysis/usage.sql``).

    A named tuple, where the other records are frozen dataclasses: a run makes one for each row
    (about 200,000 at 1M events), and as a frozen dataclass it took 4.2 µs to make against 1.8
    (timeit; its ``__init__`` set each of 14 fields through ``object.__setattr__``)."""

    principal: str  # the role ARN (sessionIssuer.arn)
    event_source: str
    event_name: str
    region: str
    account: str
    request_key: str  # JSON object: only the request parameters that name a resource
    resource_arns: tuple[str, ...]  # resources[] ARNs, sorted
    day: date
    error_class: str  # ok | denied | error
    invoked_by: str  # "" when the role called directly
    calls: int
    first_seen: datetime
    last_seen: datetime
    error_code: str | None  # the least of the row's error codes (they share a class)


@dataclass(frozen=True, slots=True)
class EventSpan:
    """What the store holds in a window: the first and last event, and how many."""

    first_event: datetime | None
    last_event: datetime | None
    events: int


@dataclass(frozen=True, slots=True)
class StoredDigest:
    """A CloudTrail digest file as the store keeps it (store/integrity.py)."""

    uri: str
    account: str | None
    digest_key: str
    digest_bucket: str | None
    start_time: datetime | None
    end_time: datetime | None
    end_time_text: str | None
    key_fingerprint: str
    signature_algorithm: str
    signature: str | None  # from S3 object metadata; None for a local copy
    content_sha256: str
    previous_key: str | None
    previous_sha256: str | None
    previous_signature: str | None
    log_files: tuple[tuple[str, str], ...]  # (s3Object, SHA-256 hex)
    problem: str | None
