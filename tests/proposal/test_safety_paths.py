"""Every path that withholds a proposal, exercised (issue 11, "a proof that means something"):
a failed proof, a proposal too large for a role, a policy unreadable or missing, a role absent
from the IAM data; and the replay never skips a call because a Deny seemed to cover it."""

from __future__ import annotations

import random
import string
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from builders import ACCOUNT, REGION, arn, ecs, iam, role, sufficient_evidence, task_definition

import rightsizer.proposal.rightsize as rightsize_module
from rightsizer.analysis.inventory import build_inventory
from rightsizer.iam.observability import settings_from_config
from rightsizer.proposal.build import prove
from rightsizer.proposal.rightsize import Window, rightsize
from rightsizer.store.records import UsageRow

TRAIL = settings_from_config({"name": "all", "data_events": ["AWS::S3::Object",
                                                             "AWS::SQS::Queue"]})
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
MOMENT = datetime(2026, 10, 10, tzinfo=UTC)


def s3_row(name: str, bucket: str, key: str, calls: int = 2) -> UsageRow:
    return UsageRow(principal=arn("app"), event_source="s3.amazonaws.com", event_name=name,
                    region=REGION, account=ACCOUNT,
                    request_key=f'{{"bucketName":"{bucket}","key":"{key}"}}', resource_arns=(),
                    day=MOMENT.date(), error_class="ok", invoked_by="", calls=calls,
                    first_seen=MOMENT, last_seen=MOMENT, error_code=None)


def run(details, rows, task_definitions=()):
    inventory = build_inventory(details, ecs(*task_definitions))
    (target,) = [r for r in inventory.ecs_roles if r.name == "app"]
    return rightsize(target, rows, sessions={}, trails=[TRAIL], exclusions=(), window=WINDOW,
                     min_window_days=30, today=date(2026, 11, 28),
                     sufficiency=sufficient_evidence())


POLICY = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                         "Resource": "arn:aws:s3:::data/*"}]}


def drop_get_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever bug makes a proposal drop a used action: here, s3:GetObject."""
    real = rightsize_module.propose

    def dropping(**kwargs):
        proposal, notes = real(**kwargs)
        documents = tuple(replace(d, statements=tuple(
            s for s in d.statements if "s3:GetObject" not in s.actions))
            for d in proposal.documents)
        return replace(proposal, documents=documents), notes

    monkeypatch.setattr(rightsize_module, "propose", dropping)


def test_a_proposal_that_fails_its_proof_is_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard itself: whatever bug makes a proposal drop a used action, the replay catches it
    and the proposal is not recommended."""
    drop_get_object(monkeypatch)
    result = run(iam(role("app", inline={"p": POLICY})), [s3_row("GetObject", "data", "k")])
    assert result.proposal is None
    finding = next(f for f in result.findings if f.code == "PROPOSAL_FAILED_PROOF")
    assert finding.severity.value == "high"
    assert "s3:GetObject on arn:aws:s3:::data/k" in finding.message


def test_prove_names_unused_actions_still_allowed_and_broader_grants() -> None:
    result = run(iam(role("app", inline={"p": POLICY})), [s3_row("GetObject", "data", "k")])
    assert result.proposal is not None and result.replay is not None and result.replay.passed
    widened = replace(result.proposal, documents=tuple(
        replace(d, statements=tuple(replace(s, actions=(*s.actions, "s3:PutObject"),
                                            resources=("*",)) for s in d.statements))
        for d in result.proposal.documents))
    grants = result.grants
    replay = prove(widened, result.verdicts, grants, original=result.role.policies,
                   boundary=result.role.boundary)
    assert not replay.passed
    assert "s3:PutObject" in replay.unused_allowed
    assert any(b.endswith("on *") for b in replay.broader)


def test_a_proposal_too_large_for_a_role_is_withheld() -> None:
    rng = random.Random(4)
    words = ["".join(rng.choices(string.ascii_lowercase, k=14)) for _ in range(1400)]
    rows = [s3_row("GetObject", "data", f"{w}/{v}.json") for w, v in zip(words, reversed(words),
                                                                        strict=True)]
    result = run(iam(role("app", inline={"p": POLICY})), rows)
    assert result.proposal is None
    finding = next(f for f in result.findings if f.code == "PROPOSAL_TOO_LARGE")
    assert "managed policies" in finding.message


def test_a_missing_managed_policy_means_no_proposal() -> None:
    details = iam(role("app", inline={"p": POLICY},
                       attached=(f"arn:aws:iam::{ACCOUNT}:policy/not-in-the-data",)))
    result = run(details, [s3_row("GetObject", "data", "k")])
    assert result.proposal is None
    assert "POLICY_MISSING" in {f.code for f in result.findings}
    assert result.notes == ("the role's grants are not fully known: no proposal",)


def test_an_unreadable_policy_means_no_proposal() -> None:
    details = iam(role("app", inline={"p": POLICY, "broken": "%7B%22Statement%22%3A"}))
    result = run(details, [s3_row("GetObject", "data", "k")])
    assert result.proposal is None
    assert "POLICY_UNREADABLE" in {f.code for f in result.findings}


def test_a_role_absent_from_the_iam_data_gets_no_proposal() -> None:
    doc = task_definition("svc", task=arn("app"))
    inventory = build_inventory(iam(), ecs(doc))
    (target,) = inventory.ecs_roles
    assert not target.in_iam_data
    result = rightsize(target, [s3_row("GetObject", "data", "k")], sessions={}, trails=[TRAIL],
                       exclusions=(), window=WINDOW, min_window_days=30,
                       today=date(2026, 11, 28), sufficiency=sufficient_evidence())
    assert result.proposal is None
    assert result.notes == ("the role is not in the IAM data: no proposal",)
    assert "ROLE_NOT_IN_IAM_DATA" in {f.code for f in result.findings}


def test_the_replay_never_skips_a_call_a_conditional_deny_seemed_to_cover() -> None:
    """A Deny whose condition the replay settles from what the record shows (here the region)
    made the original look like it denied the call, so the call was counted as 'granted
    elsewhere' and never replayed. It succeeded, so the Deny did not apply and an Allow served
    it: it must be replayed against the proposal's Allows (the Deny is carried over as it was)."""
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}},
    ]}
    result = run(iam(role("app", inline={"p": policy})), [s3_row("GetObject", "data", "k", 7)])
    assert result.replay is not None
    assert result.replay.granted_elsewhere == 0
    assert result.replay.calls == 7 and result.replay.allowed == 7


def test_a_call_an_unconditional_deny_covers_stays_granted_elsewhere() -> None:
    """The other side (found by the property test): a Deny that holds everywhere takes the action
    out of the grants; a call of it that succeeded was served by something else, not replayed."""
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t1"
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table},
        {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*"},
    ]}
    row = UsageRow(principal=arn("app"), event_source="dynamodb.amazonaws.com",
                   event_name="GetItem", region=REGION, account=ACCOUNT,
                   request_key='{"tableName":"t1"}', resource_arns=(), day=MOMENT.date(),
                   error_class="ok", invoked_by="", calls=3, first_seen=MOMENT,
                   last_seen=MOMENT, error_code=None)
    result = run(iam(role("app", inline={"p": policy})), [row])
    assert result.proposal is not None and result.replay is not None
    assert result.replay.passed and result.replay.granted_elsewhere == 3
    assert "dynamodb:GetItem" not in result.proposed_actions


def test_a_failed_proof_names_the_first_twenty_refused_calls_in_resource_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay asks about a role's resources in any order, but names the calls the proposal
    refuses in order of resource and region, those whose resource is unknown last, and at
    most twenty."""
    drop_get_object(monkeypatch)
    keys = [f"k{n:02d}" for n in range(30)]
    random.Random(7).shuffle(keys)
    rows = [s3_row("GetObject", "data", key) for key in keys]
    rows += [rows[0]._replace(region="eu-west-1"),
             s3_row("GetObject", "data", "k")._replace(request_key="{}")]  # resource unknown
    result = run(iam(role("app", inline={"p": POLICY})), rows)
    assert result.replay is not None and not result.replay.passed
    resources = sorted([(f"arn:aws:s3:::data/{key}", REGION) for key in keys]
                       + [(f"arn:aws:s3:::data/{keys[0]}", "eu-west-1")])
    assert list(result.replay.failures) == [
        f"s3:GetObject on {resource} ({region})" for resource, region in resources][:20]
    assert (result.replay.failed, result.replay.unknown_resource) == (2 * (len(keys) + 1), 2)


def test_a_failed_proof_names_the_calls_of_unknown_resource_after_the_others(
        monkeypatch: pytest.MonkeyPatch) -> None:
    drop_get_object(monkeypatch)
    rows = [s3_row("GetObject", "data", "k"),
            s3_row("GetObject", "data", "k")._replace(request_key="{}")]
    anywhere = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    result = run(iam(role("app", inline={"p": anywhere})), rows)
    assert result.replay is not None
    assert list(result.replay.failures) == [
        f"s3:GetObject on arn:aws:s3:::data/k ({REGION})", "s3:GetObject on * (any region)"]
