"""A second witness: IAM's last-accessed data beside CloudTrail, used only to keep, never to
remove more. Pure.

A 30-day window cannot see a quarterly job; IAM records each role's last use of every service,
and of many services each action, over at least 400 days (sources/last_accessed.py). For an
action CloudTrail judged ``unused``:

- IAM tracks the action and saw it used: kept, ``used_per_iam``, with the date.
- IAM tracks the action and never saw it used: the ``unused`` verdict stands, stronger; the
  evidence says so.
- IAM does not track the action (or the service) one by one: its service's last use decides.
  Never in the tracking period: stronger. Within the window, where CloudTrail saw calls of the
  service: explained by them, it stands. Otherwise (before the window, or in it with no call
  CloudTrail saw) IAM saw a use CloudTrail did not: every unused action of the service is kept,
  ``used_per_iam``, since IAM does not say which.

Where the witnesses disagree (CloudTrail saw a call of a service IAM says was not used in its
tracking period, or IAM saw a use in the window that CloudTrail did not), the role says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from rightsizer.analysis.verdicts import Verdict
from rightsizer.sources.last_accessed import RoleAccess

__all__ = ["witness"]

USED_PER_IAM = "used_per_iam"


def witness(verdicts: Sequence[Verdict], access: RoleAccess, window_start: datetime
            ) -> tuple[tuple[Verdict, ...], tuple[str, ...]]:
    """The verdicts with IAM's last-accessed data heard, and where the two witnesses disagree."""
    seen_services = {v.action.split(":", 1)[0].lower() for v in verdicts
                     if v.evidence is not None and (v.evidence.calls or v.evidence.denied_calls)}
    out: list[Verdict] = []
    for verdict in verdicts:
        if verdict.verdict != "unused":
            out.append(verdict)
            continue
        service, _, name = verdict.action.partition(":")
        found = access.services.get(service.lower())
        tracked = found.actions if found is not None else None
        if found is None or found.last is None:
            out.append(replace(verdict, rule=f"{verdict.rule}; IAM: {service} not accessed in "
                                             "its tracking period (400 days)"))
        elif tracked is not None and name.lower() in tracked:
            when = tracked[name.lower()]
            if when is None:
                out.append(replace(verdict, rule=f"{verdict.rule}; IAM: never accessed in its "
                                                 "tracking period (400 days)"))
            else:
                out.append(replace(verdict, verdict=USED_PER_IAM,
                                   rule="IAM saw it used, CloudTrail did not",
                                   reason=f"IAM last accessed {verdict.action} on "
                                          f"{when:%Y-%m-%d}"))
        elif found.last >= window_start and service.lower() in seen_services:
            out.append(replace(verdict, rule=f"{verdict.rule}; IAM's last use of {service} "
                                             f"({found.last:%Y-%m-%d}) is in the window, where "
                                             "CloudTrail saw its calls"))
        else:
            out.append(replace(verdict, verdict=USED_PER_IAM,
                               rule="IAM saw its service used, CloudTrail did not",
                               reason=f"IAM last saw {service} used on {found.last:%Y-%m-%d}, "
                                      "which the window's calls do not explain; IAM does not "
                                      "say which action"))
    return tuple(out), _disagreements(verdicts, access, window_start, seen_services)


def _disagreements(verdicts: Sequence[Verdict], access: RoleAccess, window_start: datetime,
                   seen: set[str]) -> tuple[str, ...]:
    notes = []
    for service in sorted(seen):
        found = access.services.get(service)
        if found is None or found.last is None:
            notes.append(f"CloudTrail saw calls of {service}, but IAM reports no use of it in "
                         "its tracking period")
        elif found.last < window_start:
            notes.append(f"CloudTrail saw calls of {service} in the window, but IAM's last use "
                         f"of it is {found.last:%Y-%m-%d}, before the window")
    granted = {v.action.split(":", 1)[0].lower() for v in verdicts if v.granted}
    for service, found in sorted(access.services.items()):
        if (found.last is not None and found.last >= window_start and service not in seen
                and service in granted):
            notes.append(f"IAM saw {service} used on {found.last:%Y-%m-%d}, in the window, but "
                         "CloudTrail shows no call of it")
    return tuple(notes)
