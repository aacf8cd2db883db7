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
output>}]}``; or live (``fetch_last_accessed``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rightsizer.errors import SourceError
from rightsizer.sources.aws import AwsOptions, describe_aws_error, make_aws_client
from rightsizer.sources.jsonfile import read_json_file
from rightsizer.timestamps import parse_utc

__all__ = ["RoleAccess", "ServiceAccess", "fetch_last_accessed", "load_last_accessed",
           "parse_role_access"]


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
            actions = {str(a.get("ActionName", "")).lower(): parse_utc(a.get("LastAccessedTime"))
                       for a in tracked if a.get("ActionName")}
        services[namespace] = ServiceAccess(namespace, parse_utc(entry.get("LastAuthenticated")),
                                            actions)
    return RoleAccess(arn, parse_utc(output.get("JobCompletionDate")), services)


def load_last_accessed(path: str | Path) -> dict[str, RoleAccess]:
    """Role ARN -> what IAM recorded of it, from a file (module docstring)."""
    data = read_json_file(path, "--last-accessed")
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



def fetch_last_accessed(options: AwsOptions, role_arns: Sequence[str], *,
                        poll_seconds: float = 2.0, timeout: float = 300.0
                        ) -> tuple[dict[str, RoleAccess], list[tuple[str, str]]]:
    """IAM's last-accessed data of ``role_arns``, live: one ACTION_LEVEL job per role
    (``GenerateServiceLastAccessedDetails``), all started first, then polled until each is done
    (``GetServiceLastAccessedDetails``, every page). Returns what was read and, for each role
    that could not be, ``(arn, reason)``: the others are still read."""
    client = make_aws_client("iam", options)
    jobs: dict[str, str] = {}
    failed: list[tuple[str, str]] = []
    for arn in role_arns:
        try:
            jobs[arn] = client.generate_service_last_accessed_details(
                Arn=arn, Granularity="ACTION_LEVEL")["JobId"]
        except Exception as exc:
            failed.append((arn, describe_aws_error(exc)))
    found: dict[str, RoleAccess] = {}
    deadline = time.monotonic() + timeout
    while jobs:
        for arn, job in list(jobs.items()):
            try:
                pages = _job_pages(client, job)
            except Exception as exc:
                failed.append((arn, describe_aws_error(exc)))
                del jobs[arn]
                continue
            if pages is None:
                continue  # still running
            status, outputs = pages
            del jobs[arn]
            if status != "COMPLETED":
                failed.append((arn, f"the last-accessed job {job} ended {status}"))
                continue
            merged = dict(outputs[0])
            merged["ServicesLastAccessed"] = [s for page in outputs
                                              for s in page.get("ServicesLastAccessed") or ()]
            found[arn] = parse_role_access(arn, merged)
        if jobs:
            if time.monotonic() > deadline:
                failed.extend((arn, f"the last-accessed job {job} did not finish within "
                               f"{timeout:g} s") for arn, job in jobs.items())
                break
            time.sleep(poll_seconds)
    return found, failed


def _job_pages(client: Any, job: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The job's status and every page of its answer; None while it runs."""
    first = client.get_service_last_accessed_details(JobId=job)
    if first.get("JobStatus") == "IN_PROGRESS":
        return None
    pages = [first]
    while pages[-1].get("IsTruncated") and pages[-1].get("Marker"):
        pages.append(client.get_service_last_accessed_details(JobId=job,
                                                               Marker=pages[-1]["Marker"]))
    return str(first.get("JobStatus")), pages
