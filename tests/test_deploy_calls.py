"""The job's least-privilege policy grants exactly what the job does (issue 11): the list of AWS
calls comes from the code, recorded while the job runs against moto's server over HTTP, not from
a hand-written list.

The scheduled job reads CloudTrail from S3, IAM, ECS and the trails live, and queries Athena;
every botocore call it makes in that run is recorded (a wrapper around the client's API call
that records the operation and makes the real call). The job policy's actions must be exactly
those calls' IAM actions, plus what AWS services do with the job's own credentials (Athena reads
the Glue table and the trail objects, and writes its results), plus the calls of code paths this
run does not take, each named with the code that makes it.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import botocore.client
import pytest
from helpers import enter_fresh_account
from test_athena_moto import REGION as ATHENA_REGION
from test_athena_moto import athena_result, queue_results
from test_deploy import json_policy

import rightsizer
from rightsizer.iam.actions import event_actions
from rightsizer.sources.athena import AthenaOptions
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.locate import Scope
from rightsizer.sources.s3 import S3Options

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
SOURCES = ROOT / "rightsizer" / "sources"

# Done by AWS services with the job's credentials, not by a botocore call of the job's.
SERVICE_SIDE = {
    # Athena reads the table's definition from the Glue Data Catalog as the caller
    # (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
    "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions",
    # ... reads the data and writes the results in S3 as the caller
    # (https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html).
    "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutObject",
    "s3:AbortMultipartUpload",
    # ... and decrypts trail files written with SSE-KMS through S3 as the caller
    # (https://docs.aws.amazon.com/athena/latest/ug/encryption.html).
    "kms:Decrypt",
}
# Calls of code paths this run does not take: (action, file of rightsizer/sources, the call).
OTHER_PATHS = {
    # CloudTrail's public keys, to check the digests of s3:// logs (the run's logs hold none).
    ("cloudtrail:ListPublicKeys", "public_keys.py", "client.list_public_keys("),
    ("iam:GetPolicy", "iam.py", "client.get_policy("),  # a managed policy the listing lacks
    ("iam:GetPolicyVersion", "iam.py", "client.get_policy_version("),
}
# PyAthena stops a query it was waiting for when it is interrupted (its cursor's cancel).
LIBRARY_PATHS = {("athena:StopQueryExecution", "pyathena.common", "stop_query_execution")}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(endpoint prefix, operation) of every botocore call made meanwhile, in this process."""
    calls: list[tuple[str, str]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        calls.append((self.meta.service_model.endpoint_prefix, operation_name))
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield calls


def _account_with_everything(endpoint: str, account: str) -> str:
    """A fresh moto account: trail files in S3, an ECS role and task definition, a trail."""
    aws = AwsOptions(endpoint_url=endpoint, region="us-east-1")
    s3 = make_aws_client("s3", aws)
    bucket = f"trail-{account}"
    s3.create_bucket(Bucket=bucket)
    files = sorted((SAMPLE / "cloudtrail").rglob("*.json.gz"))
    for path in [f for f in files if "/CloudTrail/" in str(f)][:3]:
        key = str(path.relative_to(SAMPLE / "cloudtrail"))
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    iam = make_aws_client("iam", aws)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="app-task", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="app-task", PolicyName="app", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    ecs = make_aws_client("ecs", aws)
    ecs.register_task_definition(
        family="app", taskRoleArn=f"arn:aws:iam::{account}:role/app-task",
        containerDefinitions=[{"name": "app", "image": "nginx:1.27", "memory": 128}])
    cloudtrail = make_aws_client("cloudtrail", aws)
    cloudtrail.create_trail(Name="org-trail", S3BucketName=bucket, IsMultiRegionTrail=True)
    return bucket


def test_the_job_policy_grants_exactly_what_the_job_calls(
        moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        recorded: list[tuple[str, str]]) -> None:
    account = enter_fresh_account(moto_server, monkeypatch)
    bucket = _account_with_everything(moto_server, account)
    results = f"athena-results-{account}"
    make_aws_client("s3", AwsOptions(endpoint_url=moto_server)).create_bucket(Bucket=results)
    queue_results(moto_server, account, [athena_result([])])
    recorded.clear()  # only the job's own calls from here on

    aws = AwsOptions(endpoint_url=moto_server, region="us-east-1")
    s3_options = S3Options(endpoint_url=moto_server)
    result = rightsizer.run(logs=[f"s3://{bucket}/AWSLogs/"], iam="aws", ecs="aws",
                            trail_files=["aws"], aws=aws, s3_options=s3_options,
                            out=tmp_path / "out", db=tmp_path / "s.duckdb", workers=1)
    assert result.ingest is not None and result.ingest.files_ingested == 3
    assert result.summary["sources"]["trails_origin"] == "live"
    # The Athena source: one account's usage query (an empty result).
    athena = AthenaOptions(workgroup="primary", output_location=f"s3://{results}/r/",
                           region=ATHENA_REGION, endpoint_url=moto_server, concurrency=1)
    summary = rightsizer.ingest(["athena://cloudtrail.org_trail"], tmp_path / "a.duckdb",
                                scope=Scope(accounts=frozenset({account})), athena=athena)
    assert summary.ok and len(summary.athena_queries) == 1

    made = set()
    for prefix, operation in recorded:
        host = {"api.ecr": "ecr"}.get(prefix, prefix)
        mapped = event_actions(f"{host}.amazonaws.com", operation)
        assert mapped.status == "mapped", (prefix, operation, mapped.rule)
        made.update(mapped.actions)
    policy = json_policy("", kms=True)
    granted = {a for s in policy["Statement"] for a in (
        s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    other = {action for action, _, _ in OTHER_PATHS | LIBRARY_PATHS}
    for action, file, call in OTHER_PATHS:
        assert call in (SOURCES / file).read_text(), (action, file)
    for action, module, call in LIBRARY_PATHS:
        assert call in inspect.getsource(importlib.import_module(module)), (action, module)
    # Every call the job made is granted ...
    assert made <= granted, sorted(made - granted)
    # ... and nothing is granted that neither the job, nor AWS for it, nor a named path needs.
    assert granted == made | SERVICE_SIDE | other, sorted(granted - made - SERVICE_SIDE - other)


def test_the_recorder_sees_the_calls() -> None:
    """The wrapper above must record what goes through botocore, or the test proves nothing."""
    calls: list[tuple[str, str]] = []
    real = botocore.client.BaseClient._make_api_call
    try:
        def recording(self, operation_name, api_params):  # type: ignore[no-untyped-def]
            calls.append((self.meta.service_model.endpoint_prefix, operation_name))
            raise RuntimeError("stop here")

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
        client = make_aws_client("s3", AwsOptions(endpoint_url="http://127.0.0.1:9",
                                                  region="us-east-1"))
        with pytest.raises(RuntimeError):
            client.list_buckets()
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]
    assert calls == [("s3", "ListBuckets")]
