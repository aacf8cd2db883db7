"""explain's diagnosis (issue 13): each cause from the evaluator, the fix it proves, and never a
grant for a call nothing declares."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from builders import (
    ACCOUNT,
    EC2_TRUST,
    EXECUTION_POLICY,
    EXECUTION_POLICY_ARN,
    REGION,
    allow,
    ecs,
    iam,
    role,
    task_definition,
)

from rightsizer.analysis.explain import (
    Attempt,
    Failure,
    StoppedTask,
    attempts_from_stopped_tasks,
    explain,
)
from rightsizer.analysis.inventory import Inventory, build_inventory
from rightsizer.iam.ecs_failures import match_stopped_reason, refused_call
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.trust import ECS_TASKS, service_trust
from rightsizer.sources.iam import ManagedPolicyDetails

EXEC = f"arn:aws:iam::{ACCOUNT}:role/app-exec"
TASK = f"arn:aws:iam::{ACCOUNT}:role/app-task"
REPO = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/db-AbC123"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER = "210987654321"
WHEN = datetime(2026, 11, 20, 12, tzinfo=UTC)
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/app:log-stream:ecs/app/*"
PULL_AND_LOGS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": REPO},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": LOGS}]}


def inventory(*roles: Any, docs: tuple[dict[str, Any], ...] | None = None) -> Inventory:
    docs = docs or (task_definition("app", execution=EXEC, task=TASK),)
    return build_inventory(iam(*roles), ecs(*docs))


def attempt(action: str | None, resource: str, *, role_arn: str = EXEC, count: int = 4,
            **extra: Any) -> Attempt:
    return Attempt(role_arn, action, resource, REGION, count, WHEN, WHEN, "cloudtrail",
                   "AccessDenied", **extra)


def one(failures: tuple[Failure, ...], action: str | None) -> Failure:
    [found] = [f for f in failures if f.action == action and f.source != "inventory"]
    return found


def lets_through(failure: Failure, inv: Inventory) -> bool:
    """The fix applied, the refused call is allowed."""
    subject = next(r for r in inv.roles if r.arn == failure.role_arn)
    assert failure.fix is not None and failure.fix.statement is not None
    added = parse_policy({"Version": "2012-10-17", "Statement": [dict(failure.fix.statement)]},
                         name="fix", kind="inline")
    request = Request(failure.action or "", failure.resource, context_complete=False)
    if failure.fix.where == "permissions_boundary":
        assert subject.boundary is not None
        cap = replace(subject.boundary, statements=(*subject.boundary.statements,
                                                    *added.statements))
        return evaluate(request, subject.policies, boundary=cap).allowed
    return evaluate(request, [*subject.policies, added], boundary=subject.boundary).allowed


def test_a_missing_ecr_pull_gets_the_declared_statement() -> None:
    inv = inventory(role("app-exec", inline={"p": allow("ecr:GetAuthorizationToken")}),
                    role("app-task"))
    failure = one(explain([attempt("ecr:BatchGetImage", REPO)], inv), "ecr:BatchGetImage")
    assert failure.cause.code == "MISSING_ALLOW"
    assert failure.symptom == "CannotPullContainerError"
    assert failure.fix is not None and failure.fix.verified
    assert failure.fix.where == "identity_policy"
    assert failure.fix.statement == {"Sid": "AllowEcrBatchGetImage", "Effect": "Allow",
                                     "Action": "ecr:BatchGetImage", "Resource": REPO}
    assert lets_through(failure, inv)
    assert (failure.count, failure.first_seen) == (4, WHEN)


def test_a_missing_log_stream_grant_is_scoped_to_the_prefix_not_the_stream() -> None:
    inv = inventory(role("app-exec", inline={"p": allow("ecr:*")}), role("app-task"))
    stream = LOGS.replace("*", "0a1b2c3d")
    failure = one(explain([attempt("logs:CreateLogStream", stream)], inv),
                  "logs:CreateLogStream")
    assert failure.fix is not None and failure.fix.statement is not None
    assert failure.fix.statement["Resource"] == LOGS  # the next task's stream too
    assert failure.fix.verified


def test_an_explicit_deny_names_the_statement_and_the_change() -> None:
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}]}
    doc = task_definition("app", execution=EXEC, task=TASK,
                          secrets=[{"name": "DB", "valueFrom": SECRET}])
    inv = inventory(role("app-exec", inline={"p": deny}), role("app-task"), docs=(doc,))
    failure = one(explain([attempt("secretsmanager:GetSecretValue", SECRET)], inv),
                  "secretsmanager:GetSecretValue")
    assert failure.cause.code == "EXPLICIT_DENY"
    assert failure.denied_by == ('inline:p#1 (Sid "NoSecrets")',)
    assert failure.fix is not None and failure.fix.where == "deny_statement"
    assert failure.fix.verified and 'Sid "NoSecrets"' in failure.fix.change


def test_a_boundary_that_allows_nothing_of_it_is_fixed_in_the_boundary() -> None:
    boundary = "arn:aws:iam::111122223333:policy/boundary"
    cap = ManagedPolicyDetails(arn=boundary, name="boundary", default_version_id="v1",
                               aws_managed=False, document=allow("ecr:*"))
    details = iam(role("app-exec", attached=(EXECUTION_POLICY_ARN,), boundary=boundary),
                  role("app-task"), policies=(EXECUTION_POLICY, cap))
    inv = build_inventory(details, ecs(task_definition("app", execution=EXEC, task=TASK)))
    stream = LOGS.replace("*", "0a1b")
    failure = one(explain([attempt("logs:CreateLogStream", stream)], inv),
                  "logs:CreateLogStream")
    assert failure.cause.code == "PERMISSION_BOUNDARY"
    assert failure.fix is not None and failure.fix.where == "permissions_boundary"
    assert failure.fix.verified and lets_through(failure, inv)


def test_a_repository_of_another_account_needs_its_repository_policy() -> None:
    repo = f"arn:aws:ecr:{REGION}:{OTHER}:repository/base"
    doc = task_definition("app", execution=EXEC, task=TASK,
                          image=f"{OTHER}.dkr.ecr.{REGION}.amazonaws.com/base:1")
    inv = inventory(role("app-exec", inline={"p": allow("ecr:*")}), role("app-task"),
                    docs=(doc,))
    failure = one(explain([attempt("ecr:BatchGetImage", repo)], inv), "ecr:BatchGetImage")
    assert failure.cause.code == "REPOSITORY_POLICY"
    assert failure.fix is not None and failure.fix.where == "repository_policy"
    assert failure.fix.account == OTHER and failure.fix.verified
    assert failure.fix.statement == {
        "Sid": "AllowPull", "Effect": "Allow", "Principal": {"AWS": EXEC},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}


def test_a_key_the_role_may_use_but_its_key_policy_refuses() -> None:
    doc = task_definition("app", execution=EXEC, task=TASK,
                          secrets=[{"name": "DB", "valueFrom": SECRET}])
    inv = inventory(role("app-exec", inline={"p": allow("kms:Decrypt", "secretsmanager:*")}),
                    role("app-task"), docs=(doc,))
    via = {"kms:ViaService": (f"secretsmanager.{REGION}.amazonaws.com",)}
    failure = one(explain([attempt("kms:Decrypt", KEY, context=via)], inv), "kms:Decrypt")
    assert failure.cause.code == "KEY_POLICY"
    assert failure.fix is not None and failure.fix.where == "key_policy"
    assert failure.fix.statement is not None
    assert failure.fix.statement["Condition"] == {
        "StringEquals": {"kms:ViaService": [f"secretsmanager.{REGION}.amazonaws.com"]}}


def test_a_kms_decrypt_of_an_unnamed_key_is_fixed_on_the_key_the_log_names() -> None:
    doc = task_definition("app", execution=EXEC, task=TASK,
                          secrets=[{"name": "DB", "valueFrom": SECRET}])
    inv = inventory(role("app-exec", inline={"p": allow("secretsmanager:*")}), role("app-task"),
                    docs=(doc,))
    via = {"kms:ViaService": (f"secretsmanager.{REGION}.amazonaws.com",)}
    failure = one(explain([attempt("kms:Decrypt", KEY, context=via)], inv), "kms:Decrypt")
    assert failure.cause.code == "MISSING_ALLOW"
    assert failure.fix is not None and failure.fix.verified
    assert failure.fix.statement == {
        "Sid": "AllowKmsDecrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": [
            f"secretsmanager.{REGION}.amazonaws.com"]}}}


def test_allowed_by_the_role_and_refused_anyway_is_outside_the_role() -> None:
    inv = inventory(role("app-exec", inline={"p": allow("ecr:*")}), role("app-task"))
    failure = one(explain([attempt("ecr:BatchGetImage", REPO)], inv), "ecr:BatchGetImage")
    assert failure.cause.code == "DENIED_OUTSIDE_ROLE"
    assert failure.fix is None and "SCP" in (failure.no_fix or "")


def test_a_call_nothing_declares_is_a_bug_or_a_probe_shown_once_never_granted() -> None:
    inv = inventory(role("app-exec", attached=(EXECUTION_POLICY_ARN,)), role("app-task"))
    attempts = [attempt("s3:DeleteObject", f"arn:aws:s3:::bucket/key-{n}", role_arn=TASK,
                        count=2) for n in range(3)]
    failures = [f for f in explain(attempts, inv) if f.action == "s3:DeleteObject"]
    assert len(failures) == 1
    [failure] = failures
    assert failure.cause.code == "NOT_NEEDED" and failure.fix is None
    assert failure.count == 6 and failure.resource == "(several)"
    assert failure.if_needed is not None and failure.if_needed["Action"] == "s3:DeleteObject"


def test_a_refusal_of_a_role_that_is_not_an_ecs_role_is_not_ours() -> None:
    inv = inventory(role("app-exec", attached=(EXECUTION_POLICY_ARN,)), role("app-task"),
                    role("lambda-role", trust=EC2_TRUST))
    lam = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
    failures = explain([attempt("s3:GetObject", "arn:aws:s3:::b/k", role_arn=lam)], inv)
    assert all(f.role_arn != lam for f in failures)


def test_a_wrong_trust_principal_gets_the_recommended_trust() -> None:
    inv = inventory(role("app-exec", trust=EC2_TRUST, attached=(EXECUTION_POLICY_ARN,)),
                    role("app-task"))
    failure = one(explain([attempt("sts:AssumeRole", EXEC)], inv), "sts:AssumeRole")
    assert failure.cause.code == "TRUST_WRONG_PRINCIPAL"
    assert failure.fix is not None and failure.fix.where == "trust_policy"
    assert failure.fix.verified
    fixed = parse_policy({"Version": "2012-10-17", "Statement": [dict(failure.fix.statement)]},
                         name="t", kind="trust")
    assert service_trust(fixed, ECS_TASKS).assumable


def test_a_trust_condition_for_another_region_is_a_mismatch() -> None:
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:*"}}}]}
    inv = inventory(role("app-exec", trust=trust, attached=(EXECUTION_POLICY_ARN,)),
                    role("app-task"))
    failure = one(explain([attempt("sts:AssumeRole", EXEC)], inv), "sts:AssumeRole")
    assert failure.cause.code == "TRUST_CONDITION_MISMATCH"
    assert "aws:SourceArn" in failure.cause.sentence
    assert failure.fix is not None and failure.fix.verified
    assert failure.fix.statement is not None
    assert failure.fix.statement["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:*")


def test_the_inventory_predicts_what_will_fail_unless_it_worked() -> None:
    inv = inventory(role("app-exec", trust=EC2_TRUST,
                         inline={"p": allow("ecr:GetAuthorizationToken")}), role("app-task"))
    predicted = explain([], inv)
    assert {(f.action, f.cause.code) for f in predicted} >= {
        ("sts:AssumeRole", "TRUST_WRONG_PRINCIPAL"), ("ecr:BatchGetImage", "MISSING_ALLOW")}
    assert all(f.source == "inventory" and f.count == 0 for f in predicted)
    worked = explain([], inv, succeeded=[(EXEC, "ecr:BatchGetImage")])
    assert "ecr:BatchGetImage" not in {f.action for f in worked}


@pytest.mark.parametrize(("message", "code", "action"), [
    ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
     "resolve ref: AccessDeniedException: User: arn:aws:sts::1:assumed-role/r/t is not "
     "authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:1:repository/a "
     "because no identity-based policy allows the ecr:BatchGetImage action",
     "ECR_PULL_DENIED", "ecr:BatchGetImage"),
    ("CannotPullContainerError: failed to do request: Head \"https://x\": dial tcp "
     "10.0.3.17:443: i/o timeout", "ECR_NO_ROUTE", None),
    ("CannotPullContainerError: ref pull has been retried: not found", "IMAGE_NOT_FOUND", None),
    ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
     "retrieval failed: unable to retrieve secret from asm: service call has been retried 1 "
     "time(s): AccessDeniedException: User: a is not authorized to perform: "
     "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:1:secret:x",
     "SECRET_DENIED", "secretsmanager:GetSecretValue"),
    ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
     "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 "
     "time(s): AccessDeniedException: not authorized to perform: ssm:GetParameters",
     "PARAMETER_DENIED", "ssm:GetParameters"),
    ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
     "retrieval failed: unable to retrieve secret from asm: AccessDeniedException: Access to "
     "KMS is not allowed", "KMS_DENIED", None),
    ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
     "retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 "
     "time(s): RequestError: send request failed", "SECRETS_NO_ROUTE", None),
    ("ResourceInitializationError: failed to validate logger args: create stream has been "
     "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
     "specified log group does not exist.", "LOG_GROUP_MISSING", None),
    ("ResourceInitializationError: failed to validate logger args: AccessDeniedException: "
     "not authorized to perform: logs:CreateLogStream on resource: arn:aws:logs:x",
     "LOG_STREAM_DENIED", "logs:CreateLogStream"),
    ("ECS was unable to assume the role 'arn:aws:iam::1:role/r' that was provided for this "
     "task.", "ROLE_NOT_ASSUMABLE", None),
    ("Essential container in task exited", None, None),
    ("OutOfMemoryError: Container killed due to memory usage", None, None),
])
def test_stopped_task_messages(message: str, code: str | None, action: str | None) -> None:
    found = match_stopped_reason(message)
    assert (found.rule.code if found else None) == code
    if found:
        assert found.action == action
        assert found.rule.source.startswith("https://")


def test_refused_call_reads_action_and_resource() -> None:
    assert refused_call("User: x is not authorized to perform: kms:Decrypt on resource: "
                        "arn:aws:kms:us-east-1:1:key/k because no identity-based policy") == (
        "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k")
    assert refused_call("nothing refused here") == (None, None)


def test_a_stopped_task_without_an_action_points_at_the_refused_declared_need() -> None:
    inv = inventory(role("app-exec", inline={"p": allow("ecr:GetAuthorizationToken")}),
                    role("app-task"))
    td = inv.task_definitions[0]
    task = StoppedTask(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/abc", td.arn, REGION, ACCOUNT,
                       ("CannotPullContainerError: pull access denied: 403 Forbidden",), WHEN)
    attempts = attempts_from_stopped_tasks([task], inv.task_definitions)
    failures = [f for f in explain(attempts, inv) if f.source != "inventory"]
    assert {f.action for f in failures} == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert all(f.cause.code == "MISSING_ALLOW" and f.stopped_tasks == 1 for f in failures)
    assert all(f.symptom == "CannotPullContainerError" for f in failures)


def test_a_stopped_task_with_no_route_gets_no_iam_fix() -> None:
    inv = inventory(role("app-exec", attached=(EXECUTION_POLICY_ARN,)), role("app-task"))
    td = inv.task_definitions[0]
    task = StoppedTask("arn:aws:ecs:us-east-1:1:task/c/t", td.arn, REGION, ACCOUNT,
                       ("CannotPullContainerError: dial tcp 10.0.0.1:443: i/o timeout",), None)
    [failure] = [f for f in explain(attempts_from_stopped_tasks([task], inv.task_definitions),
                                    inv) if f.source == "stopped_task"]
    assert failure.cause.code == "ECR_NO_ROUTE"
    assert failure.fix is None and "no IAM change helps" in (failure.no_fix or "")


def test_refusals_outside_the_role_are_one_row_per_action_whatever_the_objects() -> None:
    # A bucket policy refusing deletes of many objects: one failure, not one per object.
    inv = inventory(role("app-exec", attached=(EXECUTION_POLICY_ARN,)),
                    role("app-task", inline={"p": allow("s3:DeleteObject")}))
    attempts = [attempt("s3:DeleteObject", f"arn:aws:s3:::b/k{n}", role_arn=TASK, count=1)
                for n in range(40)]
    [failure] = [f for f in explain(attempts, inv) if f.action == "s3:DeleteObject"]
    assert failure.cause.code == "DENIED_OUTSIDE_ROLE"
    assert failure.count == 40 and failure.resource == "(several)" and failure.fix is None


def test_an_allow_under_conditions_the_call_did_not_meet_names_the_keys() -> None:
    conditioned = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ecr:*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0123"}}}]}
    inv = inventory(role("app-exec", inline={"p": conditioned}), role("app-task"))
    failure = one(explain([attempt("ecr:BatchGetImage", REPO)], inv), "ecr:BatchGetImage")
    assert failure.cause.code == "CONDITION_NOT_MET"
    assert "aws:SourceVpce" in failure.cause.sentence and failure.fix is None


def test_a_call_that_failed_after_authorization_shows_the_need_is_met() -> None:
    # awslogs-create-group calls CreateLogGroup at each start; on a group that exists it fails
    # with ResourceAlreadyExistsException, after IAM let it through: no failure to predict.
    from datetime import date

    from rightsizer.analysis.attempts import succeeded_calls
    from rightsizer.store.records import UsageRow

    row = UsageRow(EXEC, "logs.amazonaws.com", "CreateLogGroup", REGION, ACCOUNT, "{}", (),
                   date(2026, 11, 20), "error", "", 3, WHEN, WHEN,
                   "ResourceAlreadyExistsException")
    assert (EXEC, "logs:CreateLogGroup") in succeeded_calls([row])
    assert succeeded_calls([row._replace(error_class="denied")]) == set()
