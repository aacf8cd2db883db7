"""IAM's own record of when a role last used each service, and for many services each action:
``iam:GenerateServiceLastAccessedDetails`` with ``Granularity=ACTION_LEVEL``, read with
``GetServiceLastAccessedDetails``. IAM reports activity for at least the last 400 days, and
counts every attempt, refused ones too
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateServiceLastAccessedDetails.html).
A service whose answer lists ``TrackedActionsLastAccessed`` is tracked action by action; the
list names every tracked action, with no time for one not used
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed-action-last-accessed.html).

Read from a file: a JSON object mapping each role ARN to the ``aws iam
get-service-last-accessed-details`` output of its job, or ``{"Roles": [{"Arn": ..., <that
output>}]}``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from rightsizer.errors import SourceError

__all__ = ["RoleAccess", "ServiceAccess", "load_last_accessed", "parse_role_access"]


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    namespace: str  # the IAM prefix: "s3", "dynamodb"
    last: datetime | None  # LastAuthenticated; None: not in the tracking period
    # Action name (as IAM spells it, without the prefix) -> when last accessed (None: tracked,
    # not accessed); None when the service is not tracked action by action.
    actions: Mapping[str, datetime | None] | None


@dataclass(frozen=True, slots=True)
class RoleAccess:
    arn: str
    as_of: datetime | None  # JobCompletionDate
    services: Mapping[str, ServiceAccess]  # by namespace, lower case


def parse_role_access(arn: str, output: Mapping[str, Any]) -> RoleAccess:
    """One role's ``get-service-last-accessed-details`` output."""
    services = {}
    for entry in output.get("ServicesLastAccessed") or ():
        namespace = str(entry.get("ServiceNamespace") or "").lower()
        if not namespace:
            continue
        tracked = entry.get("TrackedActionsLastAccessed")
        actions = None
        if isinstance(tracked, list):
            actions = {str(a.get("ActionName", "")).lower(): _time(a.get("LastAccessedTime"))
                       for a in tracked if a.get("ActionName")}
        services[namespace] = ServiceAccess(namespace, _time(entry.get("LastAuthenticated")),
                                            actions)
    return RoleAccess(arn, _time(output.get("JobCompletionDate")), services)


def load_last_accessed(path: str | Path) -> dict[str, RoleAccess]:
    """Role ARN -> what IAM recorded of it, from a file (module docstring)."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SourceError(f"--last-accessed {path}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"--last-accessed {path}: not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("Roles"), list):
        entries = [(str(r.get("Arn", "")), r) for r in data["Roles"] if isinstance(r, dict)]
    elif isinstance(data, dict):
        entries = [(str(arn), output) for arn, output in data.items() if isinstance(output, dict)]
    else:
        entries = []
    if not entries or any(not arn.startswith("arn:") for arn, _ in entries):
        raise SourceError(f"--last-accessed {path}: not role ARNs mapped to `aws iam "
                          "get-service-last-accessed-details` output")
    return {arn: parse_role_access(arn, output) for arn, output in entries}


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
