"""bench/peers.py's comparison of trailscraper's policy with rightsizer's proposal, on
trailscraper's real output for the sample's web-frontend-task (tests/data/trailscraper/): the
calls the role was refused are in trailscraper's policy, and the log writes its task definition
declares (FireLens) are only in rightsizer's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from peers import compare, policy_actions  # noqa: E402


def test_trailscraper_grants_the_refused_calls_and_drops_the_declared_needs() -> None:
    summary = json.loads((ROOT / "tests/golden/sample/summary.json").read_text())
    role = next(r for r in summary["roles"] if r["name"] == "web-frontend-task")
    theirs = json.loads((ROOT / "tests/data/trailscraper/web-frontend-task.json").read_text())
    assert set(policy_actions(theirs).values()) == {
        "ec2:DescribeInstances", "logs:CreateLogStream", "s3:DeleteObject", "s3:GetObject"}
    found = compare(role, theirs)
    assert found["only_trailscraper"] == [
        ("ec2:DescribeInstances", "refused (AccessDenied): rightsizer reports it, never grants it"),
        ("s3:DeleteObject", "refused (AccessDenied): rightsizer reports it, never grants it")]
    assert found["only_rightsizer"] == [("logs:PutLogEvents", "a task definition declares it")]


def test_policy_actions_reads_every_statement_shape() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "S3:GetObject", "Resource": "*"}}
    assert policy_actions(document) == {"s3:getobject": "S3:GetObject"}
    document = {"Statement": [{"Effect": "Deny", "Action": ["s3:*"], "Resource": "*"},
                              {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:decrypt"]}]}
    assert policy_actions(document) == {"kms:decrypt": "kms:Decrypt"}
