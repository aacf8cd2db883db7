"""Typed records the store hands out. Plain frozen data: the layers above never see a connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class EcsAssumption:
    """ECS assumed this role for tasks: how often, in how many task sessions, and when."""

    role_arn: str
    assumptions: int
    sessions: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class UsageRow:
    """What one role did: one principal x eventSource x eventName x region x account x resource x
    day x error class x invokedBy, aggregated (``queries/duckdb/analysis/usage.sql``)."""

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
class RoleActivity:
    principal: str
    calls: int
    sessions: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class EventSpan:
    """What the store holds in a window: the first and last event, and how many."""

    first_event: datetime | None
    last_event: datetime | None
    events: int
