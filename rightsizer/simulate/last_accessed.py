"""The simulated account's IAM last-accessed data: what ``aws iam
get-service-last-accessed-details`` (ACTION_LEVEL) would return for each ECS role, written as
``OUT/iam/last-accessed.json`` (role ARN -> that output; ``rightsizer run --last-accessed``).

Built from the traffic itself (each role's last call per service, and per action for the
services IAM tracks action by action), plus one use the CloudTrail window cannot see: a
quarterly housekeeping call of the reports job's task role two months before the window's end,
which only this second witness keeps.

Services tracked action by action: AWS's list grows; the simulation tracks the four IAM began
with, S3 (management actions), EC2, IAM and Lambda
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed-action-last-accessed.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rightsizer.iam.actions import event_actions
from rightsizer.simulate.clock import iso

__all__ = ["ACTION_TRACKED", "QUARTERLY", "LastAccessed"]

ACTION_TRACKED = frozenset({"s3", "ec2", "iam", "lambda"})
# (role name, action, days before the end): used before the window, never in it.
QUARTERLY = ("reports-batch-task", "s3:PutLifecycleConfiguration", 60)
_S3_MANAGEMENT = frozenset({"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                            "s3:GetObjectVersion", "s3:ListBucket"})  # data events, not tracked


class LastAccessed:
    """Each role's last use per service and per action, as the traffic goes by."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, tuple[int, str]]] = {}
        self.actions: dict[str, dict[str, tuple[int, str]]] = {}

    def record(self, arn: str, sec: int, region: str, event_source: str,
               event_name: str) -> None:
        for action in event_actions(event_source, event_name).actions:
            service = action.split(":", 1)[0]
            for table, key in ((self.services, service), (self.actions, action)):
                found = table.setdefault(arn, {})
                if key not in found or sec >= found[key][0]:
                    found[key] = (sec, region)

    def output(self, roles: Mapping[str, str], end: int) -> dict[str, Any]:
        """Role ARN -> get-service-last-accessed-details output, for ``roles`` (ARN -> name)."""
        out = {}
        for arn, name in sorted(roles.items()):
            services = dict(self.services.get(arn, {}))
            actions = dict(self.actions.get(arn, {}))
            if name == QUARTERLY[0]:
                sec = end - QUARTERLY[2] * 86_400
                actions[QUARTERLY[1]] = (sec, "us-east-1")
                service = QUARTERLY[1].split(":", 1)[0]
                services.setdefault(service, (sec, "us-east-1"))
            entries = []
            for service, (sec, region) in sorted(services.items()):
                entry: dict[str, Any] = {
                    "ServiceName": service, "ServiceNamespace": service,
                    "LastAuthenticated": iso(sec), "LastAuthenticatedRegion": region,
                    "LastAuthenticatedEntity": arn, "TotalAuthenticatedEntities": 1}
                if service in ACTION_TRACKED:
                    entry["TrackedActionsLastAccessed"] = [
                        {"ActionName": action.split(":", 1)[1], "LastAccessedTime": iso(when),
                         "LastAccessedRegion": where, "LastAccessedEntity": arn}
                        for action, (when, where) in sorted(actions.items())
                        if action.startswith(f"{service}:") and action not in _S3_MANAGEMENT]
                entries.append(entry)
            out[arn] = {"JobStatus": "COMPLETED", "JobType": "ACTION_LEVEL",
                        "JobCreationDate": iso(end), "JobCompletionDate": iso(end),
                        "ServicesLastAccessed": entries, "IsTruncated": False}
        return out
