"""rightsizer's evaluator against one nobody here wrote (@cloud-copilot/iam-simulate, run with
node; tests/reference_evaluator/), on random identity policies and requests. Every disagreement
must be one of the documented classes below, where AWS's own documentation backs rightsizer or
leaves the answer open, and where the difference cannot change what a proposal allows.

- **Short ARNs** (fewer than six fields, ``arn:aws:sqs:*:orders-queue``): iam-simulate rejects
  them; IAM's Resource element documentation says a ``*`` that ends a segment "can expand to
  match beyond the colon boundaries", which rightsizer does
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
- **ArnLike with the value ``*``**: iam-simulate requires six fields in the value; the ARN
  condition operators' documentation does not say what a one-field value matches
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN).
- **A multivalued key under a single-valued operator** (``StringEquals`` or ``Null`` on
  ``aws:TagKeys``): the IAM User Guide tells policy authors to use ``ForAnyValue`` /
  ``ForAllValues`` with multivalued keys and does not define the rest
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).

None of them changes a proposal's meaning: conditions and Deny statements are carried into the
proposal unchanged, and the replay compares Allows, so both evaluators read the original and the
proposal the same way.
"""

from __future__ import annotations

import json
import random

from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy

ACCT = "111122223333"
ACTIONS = ["s3:GetObject", "s3:PutObject", "sqs:SendMessage", "dynamodb:GetItem", "kms:Decrypt"]
ACTION_PATTERNS = [*ACTIONS, "s3:Get*", "s3:*", "*", "sqs:*", "dynamodb:Get?tem", "S3:getobject"]
RESOURCES = ["arn:aws:s3:::data/k", "arn:aws:s3:::data/a/b", "arn:aws:s3:::other/k",
             f"arn:aws:sqs:us-east-1:{ACCT}:orders-queue",
             f"arn:aws:sqs:eu-west-1:{ACCT}:orders-queue",
             f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",
             f"arn:aws:kms:us-east-1:{ACCT}:key/abc"]
SHORT_ARN = "arn:aws:sqs:*:orders-queue"
RESOURCE_PATTERNS = [*RESOURCES, "*", "arn:aws:s3:::data/*", "arn:aws:s3:::*/k", SHORT_ARN,
                     f"arn:aws:sqs:*:{ACCT}:*", "arn:aws:dynamodb:*:*:table/*",
                     "arn:aws:s3:::data/?", "arn:aws:*:*:*:*"]
# KMS needs its key policy to let the account's IAM policies decide (iam-simulate models that).
KEY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*",
    "Resource": "*"}]}


def _condition(rng: random.Random) -> dict:
    kind = rng.randrange(7)
    if kind == 0:
        return {"StringEquals": {"aws:RequestedRegion": rng.choice(
            ["us-east-1", ["us-east-1", "eu-west-1"]])}}
    if kind == 1:
        return {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}
    if kind == 2:
        return {"Bool": {"aws:SecureTransport": rng.choice(["true", "false"])}}
    if kind == 3:
        return {"ArnLike": {"aws:PrincipalArn": rng.choice(
            [f"arn:aws:iam::{ACCT}:role/*", "*", f"arn:aws:iam::{ACCT}:role/app"])}}
    if kind == 4:
        return {rng.choice(["ForAnyValue:StringEquals", "ForAllValues:StringEquals",
                            "StringEquals"]): {"aws:TagKeys": rng.choice(["a", ["a", "b"]])}}
    if kind == 5:
        return {"Null": {"aws:TagKeys": rng.choice(["true", "false"])}}
    return {"StringLike": {"aws:RequestedRegion": "us-*"}}


def _statement(rng: random.Random) -> dict:
    statement: dict = {"Effect": rng.choice(["Allow", "Allow", "Deny"])}
    if rng.random() < 0.15:
        statement["NotAction"] = rng.sample(ACTION_PATTERNS, rng.randint(1, 2))
    else:
        statement["Action"] = rng.sample(ACTION_PATTERNS, rng.randint(1, 3))
    if rng.random() < 0.1:
        statement["NotResource"] = rng.sample(RESOURCE_PATTERNS, 1)
    else:
        statement["Resource"] = rng.sample(RESOURCE_PATTERNS, rng.randint(1, 2))
    if rng.random() < 0.4:
        statement["Condition"] = _condition(rng)
    return statement


def _documented(document: dict) -> bool:
    text = json.dumps(document)
    return (SHORT_ARN in text or '"aws:PrincipalArn": "*"' in text
            or '"StringEquals": {"aws:TagKeys"' in text or '"Null": {"aws:TagKeys"' in text)


def test_rightsizer_and_iam_simulate_agree_but_where_the_documentation_says_why(
        simulate) -> None:
    rng = random.Random(20261204)
    cases = []
    for _ in range(3000):
        document = {"Version": "2012-10-17",
                    "Statement": [_statement(rng) for _ in range(rng.randint(1, 3))]}
        action = rng.choice(ACTIONS)
        resource = rng.choice([r for r in RESOURCES
                               if r.split(":")[2] == action.split(":")[0]])
        context: dict = {"aws:RequestedRegion": resource.split(":")[3] or "us-east-1",
                         "aws:SecureTransport": rng.choice(["true", "false"]),
                         "aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/app"}
        if rng.random() < 0.5:
            context["aws:TagKeys"] = rng.choice([["a"], ["a", "b"], ["c"]])
        cases.append((document, action, resource, context))
    answers = simulate([{
        "policies": [d], "action": a, "resource": r, "account": ACCT,
        "principal": f"arn:aws:iam::{ACCT}:role/app", "context": c,
        "resourcePolicy": KEY_POLICY if a.startswith("kms:") else None}
        for d, a, r, c in cases])
    undocumented, documented = [], 0
    for (document, action, resource, context), answer in zip(cases, answers, strict=True):
        values = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in context.items()}
        decision = evaluate(Request(action, resource, values, context_complete=True),
                            [parse_policy(document, name="p")])
        if decision.allowed == (answer == "Allowed"):
            continue
        if _documented(document):
            documented += 1
        else:
            undocumented.append((action, resource, decision.allowed, answer, document))
    assert not undocumented, json.dumps(undocumented[:3], indent=1)
    assert documented < 0.03 * len(cases)  # 99% agree; the rest are the classes above
