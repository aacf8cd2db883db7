"""Findings: stable codes, a severity, and a message a reviewer can act on.

Codes are a contract (reports, ``--fail-on-findings`` and people's suppression lists use them):
add codes, never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["CODES", "Finding", "Severity"]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical; sort by it to put the worst first."""
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank <= other.rank


# code -> (severity, what it means). The table is the documentation (docs/inventory.md, "Findings").
CODES: dict[str, tuple[Severity, str]] = {
    "ADMIN_LIKE_GRANT": (
        Severity.CRITICAL,
        "an Allow of every action (*), of iam:*, or of everything but a few (NotAction)",
    ),
    "TRUST_ANYONE": (
        Severity.CRITICAL,
        "the trust policy lets any principal of any account assume the role (a wildcard "
        "principal or NotPrincipal in an Allow, with no condition)",
    ),
    "TRUST_OPEN_CONDITIONED": (
        Severity.HIGH,
        "the trust policy names no principal (a wildcard or NotPrincipal in an Allow): only its "
        "conditions keep other accounts out",
    ),
    "TRUST_NOT_ACTION": (
        Severity.HIGH,
        "the trust policy allows every action but some (NotAction) to its principals, not just "
        "sts:AssumeRole",
    ),
    "ECS_TRUST_UNUSABLE": (
        Severity.HIGH,
        "a task definition names the role but its trust policy does not let "
        "ecs-tasks.amazonaws.com sts:AssumeRole",
    ),
    "EXECUTION_ROLE_APP_PERMISSIONS": (
        Severity.HIGH,
        "an execution role is granted application services (s3, dynamodb, sqs, ...) that the "
        "ECS agent never needs for it",
    ),
    "POLICY_UNREADABLE": (
        Severity.HIGH,
        "a policy of the role could not be read, so its grants are not fully known",
    ),
    "POLICY_INVALID": (
        Severity.HIGH,
        "a policy of the role holds what IAM refuses (a condition operator IAM does not know): "
        "what it grants is not known, so no proposal",
    ),
    "POLICY_MISSING": (
        Severity.HIGH,
        "the role has a managed policy attached that the IAM data does not hold",
    ),
    "ECS_TRUST_NO_SOURCE_CONDITION": (
        Severity.MEDIUM,
        "the trust for ecs-tasks.amazonaws.com has no aws:SourceAccount / aws:SourceArn "
        "condition (confused deputy)",
    ),
    "ROLE_IS_EXECUTION_AND_TASK": (
        Severity.MEDIUM,
        "one role is both an execution role and a task role: the application gets the agent's "
        "permissions",
    ),
    "EXECUTION_ROLE_SHARED": (
        Severity.MEDIUM,
        "one execution role serves several task definition families",
    ),
    "ROLE_NOT_IN_IAM_DATA": (
        Severity.MEDIUM,
        "a task definition names the role, or ECS assumed it, but the IAM data has no such role "
        "(deleted, or in another account)",
    ),
    "INSUFFICIENT_EVIDENCE": (
        Severity.HIGH,
        "the logs read do not cover the accounts, regions or days the role runs in (or show no "
        "sign of it): nothing can be proven unused, so no proposal",
    ),
    "ROLE_NOT_SEEN": (
        Severity.MEDIUM,
        "the logs of the role's regions were read, but ECS never assumed it and it made no "
        "call: no proposal (an idle role: remove it, or look again later)",
    ),
    "DELIVERY_GAP": (
        Severity.MEDIUM,
        "a region the role runs in delivered no logs for an improbably long stretch of the "
        "window: calls made then are not in the evidence",
    ),
    "LOG_INTEGRITY_FAILED": (
        Severity.HIGH,
        "logs of a region the role runs in failed CloudTrail's integrity validation (a file "
        "modified or missing, a digest's signature or chain broken): no proposal",
    ),
    "REGRESSION_AFTER_RIGHTSIZING": (
        Severity.HIGH,
        "the role, rightsized by an earlier run's proposal, was refused an action that proposal "
        "removed: the service may be failing; restore the permission",
    ),
    "ROLE_UNUSED": (
        Severity.MEDIUM,
        "IAM records no use of the role since before the window (RoleLastUsed): an unused ECS "
        "role, to delete rather than rightsize",
    ),
    "FEW_OBSERVATIONS": (
        Severity.LOW,
        "the role was seen on few days or in few task sessions: rare needs may not have "
        "happened yet",
    ),
    "PROPOSAL_FAILED_PROOF": (
        Severity.HIGH,
        "the proposed policy failed its replay proof and is not recommended",
    ),
    "PROPOSAL_TOO_LARGE": (
        Severity.HIGH,
        "the proposed policy needs more managed policies than a role may have attached",
    ),
    "WINDOW_TOO_SHORT": (
        Severity.MEDIUM,
        "the observation window is shorter than the minimum: rare permissions may look unused",
    ),
    "USED_NOT_GRANTED": (
        Severity.LOW,
        "calls succeeded that the role's own policies do not grant (a resource policy did)",
    ),
    "DENIED_ATTEMPTS": (
        Severity.LOW,
        "the role tried actions and was refused: reported, never added",
    ),
    "DECLARED_NEED_GRANTED_ELSEWHERE": (
        Severity.MEDIUM,
        "a task definition needs an action the role used although its own policies do not "
        "grant it: the proposal adds it, scoped to what the task definition names",
    ),
    "DECLARED_NEED_NOT_GRANTED": (
        Severity.LOW,
        "a task definition needs an action the role's policies do not grant and the logs do not "
        "show: a resource policy may grant it, or the task fails when it needs it",
    ),
    "KEPT_GRANT_ACCOUNT_WIDE": (
        Severity.LOW,
        "actions kept without being seen (not observable, declared, excluded) still apply to "
        "every resource of their type",
    ),
    "UNMAPPED_EVENTS_KEPT_GRANTS": (
        Severity.MEDIUM,
        "grants kept because the role made calls that map to no known IAM action, which any of "
        "its service's grants may have served",
    ),
    "UNMAPPED_EVENTS": (
        Severity.INFO,
        "events rightsizer cannot map to an IAM action",
    ),
    "TASK_ROLE_SHARED": (
        Severity.LOW,
        "one task role serves several task definition families",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str

    @classmethod
    def of(cls, code: str, message: str) -> Finding:
        severity, _ = CODES[code]
        return cls(code=code, severity=severity, message=message)

    def as_json(self) -> dict[str, Any]:
        from rightsizer.analysis.controls import controls_for

        data: dict[str, Any] = {"code": self.code, "severity": self.severity.value,
                                "message": self.message}
        controls = controls_for(self.code)
        if controls:
            data["controls"] = [c.label for c in controls]
        return data
