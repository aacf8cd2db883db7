"""Proposals checked by an IAM evaluator nobody here wrote: @cloud-copilot/iam-simulate, run with
node (tests/reference_evaluator/, installed by .ci/run with npm). Issue 11, "done when": on
sample_logs/ with the trail's selectors, without them (inferred), and on a store that never read
two of its regions, every judged role's proposal, as the reference evaluator reads it,

- allows every call seen that the role's own policies allowed (the reference decides that too),
- allows it again with fresh per-session ids in place of the ones seen,
- allows every declared need the role's policies grant, on a concrete resource of its pattern,
- and allows no action judged unused (recording was on for it, or it would not be unused).
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import rightsizer
from rightsizer.sources.iam import load_authorization_details

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
IAM = SAMPLE / "iam/authorization-details.json"
ECS = SAMPLE / "ecs/task-definitions.json"
TRAIL = SAMPLE / "trail/event-selectors.json"
TODAY = date(2026, 11, 28)

Simulate = Callable[[list[dict[str, Any]]], list[str]]  # the conftest fixture


def _document(raw: Any) -> dict[str, Any]:
    return json.loads(urllib.parse.unquote(raw)) if isinstance(raw, str) else raw


@pytest.fixture(scope="module")
def originals() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Role name -> (its identity policy documents, its boundary's), as IAM holds them."""
    details = load_authorization_details(IAM)
    found = {}
    for role in details.roles:
        docs = [_document(doc) for _, doc in role.inline_policies]
        docs += [_document(details.policies[a].document) for a in role.attached_policy_arns
                 if a in details.policies]
        boundary = ([_document(details.policies[role.boundary_arn].document)]
                    if role.boundary_arn in details.policies else [])
        found[role.name] = (docs, boundary)
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, rightsizer.RunResult]:
    work = tmp_path_factory.mktemp("reference")
    full, us_only = work / "full.duckdb", work / "us.duckdb"
    rightsizer.ingest([str(SAMPLE / "cloudtrail")], full, workers=1)
    rightsizer.ingest([str(SAMPLE / "cloudtrail")], us_only,
                      scope=rightsizer.Scope(regions=frozenset({"us-east-1"})), workers=1)
    common = {"logs": [], "iam": IAM, "ecs": ECS, "today": TODAY, "workers": 1}
    return {
        "with the trail's selectors": rightsizer.run(
            out=work / "a", db=full, trail_files=[TRAIL], **common),
        "with the selectors inferred": rightsizer.run(out=work / "b", db=full, **common),
        "with two regions never read": rightsizer.run(
            out=work / "c", db=us_only, trail_files=[TRAIL], **common),
    }


_ID = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}(?![0-9A-Za-z])")


def _fresh(arn: str) -> str:
    """The ARN with a fresh id of the same shape wherever one of the task's ids stood."""
    return _ID.sub(lambda m: secrets.token_hex(len(m.group()))[:len(m.group())], arn)


def _concrete(pattern: str) -> str:
    return pattern.replace("*", "x1").replace("?", "x")


def _case(policies: list[Any], action: str, resource: str, role: str, account: str,
          region: str | None = None, boundary: list[Any] | None = None) -> dict[str, Any]:
    context = {"aws:RequestedRegion": region} if region else {}
    return {"policies": policies, "boundary": boundary or [], "action": action,
            "resource": resource, "account": account, "principal": role, "context": context}


@pytest.mark.parametrize("scenario", ["with the trail's selectors",
                                      "with the selectors inferred",
                                      "with two regions never read"])
def test_the_reference_evaluator_agrees_the_proposals_keep_the_service_and_nothing_else(
        scenario: str, runs: dict[str, rightsizer.RunResult], simulate: Simulate,
        originals: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
    result = runs[scenario]
    judged = [r for r in result.roles if r.proposal is not None]
    assert judged
    checks: list[tuple[str, str, dict[str, Any], bool]] = []  # (what, role, case, must allow)
    for r in judged:
        proposal = [d.as_json() for d in r.proposal.documents]
        original, boundary = originals[r.role.name]
        account = r.role.arn.split(":")[4]
        role = r.role.arn
        needs = {a.lower(): n for n in r.role.needs for a in n.actions}
        for v in r.verdicts:
            evidence = v.evidence
            if v.verdict == "used" and evidence is not None:
                for arn, region in evidence.resources:
                    for label, resource in (("seen", arn), ("fresh id", _fresh(arn))):
                        checks.append((f"{label} {v.action}", r.role.name,
                                       _case(original, v.action, resource, role, account,
                                             region, boundary), False))
                        checks.append((f"{label} {v.action}", r.role.name,
                                       _case(proposal, v.action, resource, role, account,
                                             region), True))
            elif v.verdict == "required_by_task_definition" and v.granted:
                need = needs.get(v.action.lower())
                if need is not None and need.resource_known:
                    resource = _concrete(need.resource)
                    checks.append((f"declared {v.action}", r.role.name,
                                   _case(original, v.action, resource, role, account,
                                         boundary=boundary), False))
                    checks.append((f"declared {v.action}", r.role.name,
                                   _case(proposal, v.action, resource, role, account), True))
            elif v.verdict == "unused":
                for pattern in r.grants.actions[v.action].resources:
                    checks.append((f"unused {v.action}", r.role.name,
                                   _case(proposal, v.action, _concrete(pattern), role, account),
                                   False))
    answers = simulate([case for _, _, case, _ in checks])
    failures = []
    index = 0
    while index < len(checks):
        what, name, case, _ = checks[index]
        if what.startswith("unused"):
            if answers[index] == "Allowed":
                failures.append(f"{name}: {what} on {case['resource']} is still allowed")
            index += 1
            continue
        # A pair: the original, then the proposal; the proposal must allow what the original did.
        if answers[index] == "Allowed" and answers[index + 1] != "Allowed":
            failures.append(f"{name}: {what} on {case['resource']}: the original allows it, the "
                            f"proposal does not ({answers[index + 1]})")
        index += 2
    assert not failures, "\n".join(failures[:20])
    # The checks are not vacuous: most seen calls were allowed by the original and re-checked.
    originals_allowed = sum(1 for (what, _, _, must), answer in zip(checks, answers, strict=True)
                            if not must and not what.startswith("unused")
                            and answer == "Allowed")
    assert originals_allowed > 20
