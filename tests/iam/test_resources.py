"""derive_resources: the ARN(s) a recorded call was authorized against, per service and per form.

Every row is one identifier form of one service rule (rightsizer/iam/resources.py docstring):
names, ARNs, partial ARNs, aliases, URLs; then the cases where the record does not say (known
False, with the reason), unknown accounts and regions, and partitions.
"""

from __future__ import annotations

from typing import Any

import pytest

from rightsizer.iam.catalog import catalog
from rightsizer.iam.patterns import matches
from rightsizer.iam.resources import Call, DerivedResources, derive_resources, partition_of

ACCT = "111122223333"
OTHER = "444455556666"


def call(
    event_name: str,
    params: dict[str, Any] | None,
    resources: tuple[dict[str, str], ...] = (),
    *,
    region: str | None = "us-east-1",
    account: str | None = ACCT,
    source: str = "example.amazonaws.com",
) -> Call:
    return Call(source, event_name, region, account, params, resources)


SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbCdEf"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# (action, call, expected arns, expected how (substring))
KNOWN = [
    # -- logs: the stream ARN for stream actions, the group ARN for group actions
    pytest.param(
        "logs:CreateLogStream",
        call("CreateLogStream", {"logGroupName": "/ecs/web", "logStreamName": "ecs/app/0a1b"}),
        (f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/web:log-stream:ecs/app/0a1b",),
        "requestParameters.logGroupName+logStreamName",
        id="logs-create-stream",
    ),
    pytest.param(
        "logs:PutLogEvents",
        call("PutLogEvents", {"logGroupName": "/ecs/web", "logStreamName": "s"}),
        (f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/web:log-stream:s",),
        "logGroupName+logStreamName",
        id="logs-put-events-stream",
    ),
    pytest.param(
        "logs:CreateLogGroup",
        call("CreateLogGroup", {"logGroupName": "/ecs/web"}),
        (f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/web",),
        "requestParameters.logGroupName",
        id="logs-create-group",
    ),
    pytest.param(
        "logs:DescribeLogStreams",
        call("DescribeLogStreams", {"logGroupName": "/ecs/web", "logStreamNamePrefix": "x"}),
        (f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/web",),
        "logGroupName",
        id="logs-group-action-ignores-stream",
    ),
    pytest.param(
        "logs:DescribeLogStreams",
        call(
            "DescribeLogStreams",
            {"logGroupIdentifier": f"arn:aws:logs:eu-west-1:{OTHER}:log-group:/shared:*"},
        ),
        (f"arn:aws:logs:eu-west-1:{OTHER}:log-group:/shared",),
        "logGroupName",
        id="logs-group-identifier-arn",
    ),
    pytest.param(
        "logs:GetLogEvents",
        call("GetLogEvents", {"logGroupName": "/ecs/web"}),
        (f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/web:log-stream:*",),
        "no logStreamName: any stream",
        id="logs-stream-action-without-stream",
    ),
    # -- secretsmanager: names get -??????, ARNs are cut after the 7th field
    pytest.param(
        "secretsmanager:GetSecretValue",
        call("GetSecretValue", {"secretId": "prod/db"}),
        (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:prod/db-??????",),
        "suffix is unknown",
        id="secret-name",
    ),
    pytest.param(
        "secretsmanager:GetSecretValue",
        call(
            "GetSecretValue",
            {"secretId": f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbCdEf"},
        ),
        (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbCdEf",),
        "requestParameters.secretId",
        id="secret-full-arn",
    ),
    pytest.param(
        "secretsmanager:GetSecretValue",
        call(
            "GetSecretValue",
            {"secretId": f"{SECRET_ARN}:password:AWSCURRENT:"},
        ),
        (f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbCdEf",),
        "requestParameters.secretId",
        id="secret-arn-with-json-key-cut-after-7-fields",
    ),
    pytest.param(
        "secretsmanager:GetSecretValue",
        call("GetSecretValue", {"secretId": f"arn:aws:secretsmanager:eu-west-1:{OTHER}:secret:db"}),
        (f"arn:aws:secretsmanager:eu-west-1:{OTHER}:secret:db-??????",),
        "partial ARN",
        id="secret-partial-arn",
    ),
    pytest.param(
        "secretsmanager:GetSecretValue",  # BatchGetSecretValue checks GetSecretValue per secret
        call("BatchGetSecretValue", {"secretIdList": ["a", "b"]}),
        (
            f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:a-??????",
            f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:b-??????",
        ),
        "secretId",
        id="secret-batch",
    ),
    # -- ssm: no leading slash, selectors dropped, names may be ARNs
    pytest.param(
        "ssm:GetParameter",
        call("GetParameter", {"name": "/app/db/password", "withDecryption": True}),
        (f"arn:aws:ssm:us-east-1:{ACCT}:parameter/app/db/password",),
        "requestParameters.name",
        id="ssm-name-leading-slash",
    ),
    pytest.param(
        "ssm:GetParameter",
        call("GetParameter", {"name": "plain"}),
        (f"arn:aws:ssm:us-east-1:{ACCT}:parameter/plain",),
        "requestParameters.name",
        id="ssm-name-without-slash",
    ),
    pytest.param(
        "ssm:GetParameters",
        call(
            "GetParameters",
            {
                "names": [
                    "/app/a",
                    "app/b:3",
                    f"arn:aws:ssm:eu-west-1:{OTHER}:parameter/shared/c:prod",
                ]
            },
        ),
        (
            f"arn:aws:ssm:eu-west-1:{OTHER}:parameter/shared/c",
            f"arn:aws:ssm:us-east-1:{ACCT}:parameter/app/a",
            f"arn:aws:ssm:us-east-1:{ACCT}:parameter/app/b",
        ),
        "requestParameters.names",
        id="ssm-names-version-label-arn",
    ),
    pytest.param(
        "ssm:GetParametersByPath",
        call("GetParametersByPath", {"path": "/app/prod/", "recursive": True}),
        (f"arn:aws:ssm:us-east-1:{ACCT}:parameter/app/prod",),
        "requestParameters.path",
        id="ssm-path",
    ),
    # -- sqs: every queue URL form, and queueName
    pytest.param(
        "sqs:SendMessage",
        call("SendMessage", {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{OTHER}/jobs"}),
        (f"arn:aws:sqs:eu-west-1:{OTHER}:jobs",),
        "requestParameters.queueUrl",
        id="sqs-url-regional",
    ),
    pytest.param(
        "sqs:ReceiveMessage",
        call("ReceiveMessage", {"queueUrl": f"https://eu-west-2.queue.amazonaws.com/{ACCT}/jobs"}),
        (f"arn:aws:sqs:eu-west-2:{ACCT}:jobs",),
        "queueUrl",
        id="sqs-url-legacy-regional",
    ),
    pytest.param(
        "sqs:DeleteMessage",
        call("DeleteMessage", {"queueUrl": f"https://queue.amazonaws.com/{ACCT}/jobs.fifo"}),
        (f"arn:aws:sqs:us-east-1:{ACCT}:jobs.fifo",),
        "queueUrl",
        id="sqs-url-legacy-us-east-1",
    ),
    pytest.param(
        "sqs:SendMessage",
        call("SendMessage", {"QueueUrl": f"https://sqs.ap-south-1.api.aws/{ACCT}/jobs"}),
        (f"arn:aws:sqs:ap-south-1:{ACCT}:jobs",),
        "queueUrl",
        id="sqs-url-dual-stack-and-capitalized-key",
    ),
    pytest.param(
        "sqs:SendMessage",
        call(
            "SendMessage",
            {"queueUrl": f"https://sqs.cn-north-1.amazonaws.com.cn/{ACCT}/jobs"},
            region="cn-north-1",
        ),
        (f"arn:aws-cn:sqs:cn-north-1:{ACCT}:jobs",),
        "queueUrl",
        id="sqs-url-china",
    ),
    pytest.param(
        "sqs:SendMessage",
        call("SendMessage", {"queueUrl": "http://localhost:4566/000000000000/jobs"}),
        ("arn:aws:sqs:us-east-1:000000000000:jobs",),
        "queueUrl",
        id="sqs-url-unknown-host-uses-call-region",
    ),
    pytest.param(
        "sqs:GetQueueUrl",
        call("GetQueueUrl", {"queueName": "jobs"}),
        (f"arn:aws:sqs:us-east-1:{ACCT}:jobs",),
        "requestParameters.queueName",
        id="sqs-queue-name",
    ),
    pytest.param(
        "sqs:GetQueueUrl",
        call("GetQueueUrl", {"queueName": "jobs", "queueOwnerAWSAccountId": OTHER}),
        (f"arn:aws:sqs:us-east-1:{OTHER}:jobs",),
        "queueName",
        id="sqs-queue-name-other-owner",
    ),
    # -- s3: resources[] first, bucket vs object by the catalog, copy source
    pytest.param(
        "s3:GetObject",
        call(
            "GetObject",
            {"bucketName": "b", "key": "ignored"},
            (
                {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k/x.txt"},
                {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b", "accountId": ACCT},
            ),
        ),
        ("arn:aws:s3:::b/k/x.txt",),
        "resources[]",
        id="s3-object-from-resources",
    ),
    pytest.param(
        "s3:ListBucket",
        call(
            "ListObjects",
            {"bucketName": "b", "prefix": "logs/"},
            ({"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"},),
        ),
        ("arn:aws:s3:::b",),
        "resources[]",
        id="s3-bucket-from-resources",
    ),
    pytest.param(
        "s3:GetObject",
        call("HeadObject", {"bucketName": "b", "key": "a/b c.txt"}),
        ("arn:aws:s3:::b/a/b c.txt",),
        "requestParameters.bucketName+key",
        id="s3-object-from-parameters",
    ),
    pytest.param(
        "s3:GetBucketLocation",
        call("GetBucketLocation", {"bucketName": "b", "location": ""}),
        ("arn:aws:s3:::b",),
        "requestParameters.bucketName",
        id="s3-bucket-from-parameters",
    ),
    pytest.param(
        "s3:DeleteObject",
        call("DeleteObjects", {"bucketName": "b", "delete": ""}),
        ("arn:aws:s3:::b/*",),
        "no key: any object",
        id="s3-object-action-without-key",
    ),
    pytest.param(
        "s3:GetObject",
        call(
            "CopyObject",
            {"bucketName": "dst", "key": "k", "x-amz-copy-source": "src/a%20b.txt?versionId=3"},
        ),
        ("arn:aws:s3:::src/a b.txt",),
        "x-amz-copy-source",
        id="s3-copy-read-side-is-the-source",
    ),
    pytest.param(
        "s3:PutObject",
        call(
            "CopyObject",
            {"bucketName": "dst", "key": "k", "x-amz-copy-source": "/src/x"},
            ({"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::src/x"},),
        ),
        ("arn:aws:s3:::dst/k",),
        "bucketName+key",
        id="s3-copy-write-side-is-the-destination",
    ),
    pytest.param(
        "s3:PutObject",
        call("PutObject", {"bucketName": "b", "key": "k"}, region="cn-north-1"),
        ("arn:aws-cn:s3:::b/k",),
        "bucketName+key",
        id="s3-china-partition",
    ),
    pytest.param(
        "s3:GetObject",
        call(
            "GetObject", {"bucketName": f"arn:aws:s3:us-east-1:{ACCT}:accesspoint/ap1", "key": "k"}
        ),
        (f"arn:aws:s3:us-east-1:{ACCT}:accesspoint/ap1/object/k",),
        "access point",
        id="s3-access-point",
    ),
    # -- dynamodb
    pytest.param(
        "dynamodb:GetItem",
        call("GetItem", {"tableName": "orders", "key": {}}),
        (f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",),
        "requestParameters.tableName",
        id="ddb-table-name",
    ),
    pytest.param(
        "dynamodb:GetItem",
        call("GetItem", {"tableName": f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/orders"}),
        (f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/orders",),
        "tableName",
        id="ddb-table-arn",
    ),
    pytest.param(
        "dynamodb:BatchGetItem",
        call("BatchGetItem", {"requestItems": {"a": {}, "b": {}}}),
        (
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/a",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/b",
        ),
        "requestParameters.requestItems",
        id="ddb-request-items",
    ),
    pytest.param(
        "dynamodb:PutItem",
        call(
            "TransactWriteItems",
            {"transactItems": [{"put": {"tableName": "a"}}, {"Update": {"TableName": "b"}}]},
        ),
        (
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/a",
            f"arn:aws:dynamodb:us-east-1:{ACCT}:table/b",
        ),
        "requestParameters.transactItems",
        id="ddb-transact-items",
    ),
    pytest.param(
        "dynamodb:Query",
        call("Query", {"tableName": "orders", "indexName": "by-date"}),
        (f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders/index/by-date",),
        "index ARN",
        id="ddb-query-index",
    ),
    # -- ecr
    pytest.param(
        "ecr:BatchGetImage",
        call("BatchGetImage", {"repositoryName": "web", "registryId": OTHER, "imageIds": []}),
        (f"arn:aws:ecr:us-east-1:{OTHER}:repository/web",),
        "registryId+repositoryName",
        id="ecr-registry-id",
    ),
    pytest.param(
        "ecr:GetDownloadUrlForLayer",
        call("GetDownloadUrlForLayer", {"repositoryName": "team/web"}),
        (f"arn:aws:ecr:us-east-1:{ACCT}:repository/team/web",),
        "requestParameters.repositoryName",
        id="ecr-own-registry",
    ),
    # -- kms
    pytest.param(
        "kms:Decrypt",
        call(
            "Decrypt",
            {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            ({"type": "AWS::KMS::Key", "ARN": KEY_ARN},),
        ),
        (KEY_ARN,),
        "resources[]",
        id="kms-decrypt-without-key-id-reads-resources",
    ),
    pytest.param(
        "kms:GenerateDataKey",
        call(
            "GenerateDataKey", {"keyId": "alias/app"}, ({"type": "AWS::KMS::Key", "ARN": KEY_ARN},)
        ),
        (KEY_ARN,),
        "resources[]",
        id="kms-alias-resolved-by-resources",
    ),
    pytest.param(
        "kms:Encrypt",
        call("Encrypt", {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
        (KEY_ARN,),
        "requestParameters.keyId",
        id="kms-key-id",
    ),
    pytest.param(
        "kms:DescribeKey",
        call("DescribeKey", {"keyId": f"arn:aws:kms:eu-west-1:{OTHER}:key/k1"}),
        (f"arn:aws:kms:eu-west-1:{OTHER}:key/k1",),
        "requestParameters.keyId",
        id="kms-key-arn",
    ),
    pytest.param(
        "kms:ReEncryptTo",
        call(
            "ReEncrypt",
            {"sourceKeyId": "k-src", "destinationKeyId": "k-dst"},
            ({"type": "AWS::KMS::Key", "ARN": KEY_ARN},),
        ),
        (f"arn:aws:kms:us-east-1:{ACCT}:key/k-dst",),
        "destinationKeyId",
        id="kms-reencrypt-to",
    ),
    pytest.param(
        "kms:CreateAlias",
        call("CreateAlias", {"aliasName": "alias/app", "targetKeyId": "k1"}),
        (f"arn:aws:kms:us-east-1:{ACCT}:alias/app", f"arn:aws:kms:us-east-1:{ACCT}:key/k1"),
        "aliasName+targetKeyId",
        id="kms-create-alias-both-resources",
    ),
    # -- lambda: every functionName form, qualifier kept
    pytest.param(
        "lambda:InvokeFunction",
        call("Invoke", {"functionName": "fn"}),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:fn",),
        "requestParameters.functionName",
        id="lambda-name",
    ),
    pytest.param(
        "lambda:InvokeFunction",
        call("Invoke", {"functionName": "fn:live"}),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:fn:live",),
        "qualifier (kept",
        id="lambda-name-with-alias",
    ),
    pytest.param(
        "lambda:InvokeFunction",
        call("Invoke", {"functionName": "fn", "qualifier": "7"}),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:fn:7",),
        "qualifier",
        id="lambda-qualifier-parameter",
    ),
    pytest.param(
        "lambda:InvokeFunction",
        call("Invoke", {"functionName": f"{OTHER}:function:fn"}),
        (f"arn:aws:lambda:us-east-1:{OTHER}:function:fn",),
        "functionName",
        id="lambda-partial-arn",
    ),
    pytest.param(
        "lambda:GetFunction",
        call(
            "GetFunction20150331v2",
            {"functionName": f"arn:aws:lambda:eu-west-1:{OTHER}:function:fn:$LATEST"},
        ),
        (f"arn:aws:lambda:eu-west-1:{OTHER}:function:fn:$LATEST",),
        "qualifier",
        id="lambda-full-arn-with-qualifier",
    ),
    # -- athena
    pytest.param(
        "athena:StartQueryExecution",
        call("StartQueryExecution", {"queryString": "SELECT 1", "workGroup": "etl"}),
        (f"arn:aws:athena:us-east-1:{ACCT}:workgroup/etl",),
        "requestParameters.workGroup",
        id="athena-workgroup",
    ),
    pytest.param(
        "athena:StartQueryExecution",
        call("StartQueryExecution", {"queryString": "SELECT 1"}),
        (f"arn:aws:athena:us-east-1:{ACCT}:workgroup/primary",),
        "primary workgroup",
        id="athena-default-primary",
    ),
    # -- ARNs in parameters (rule 3): sns, sts, kinesis streamARN, iam:PassRole
    pytest.param(
        "sns:Publish",
        call("Publish", {"topicArn": f"arn:aws:sns:us-east-1:{ACCT}:alerts", "message": "x"}),
        (f"arn:aws:sns:us-east-1:{ACCT}:alerts",),
        "requestParameters.topicArn",
        id="sns-topic-arn",
    ),
    pytest.param(
        "sts:AssumeRole",
        call(
            "AssumeRole",
            {"roleArn": f"arn:aws:iam::{OTHER}:role/path/deploy", "roleSessionName": "s"},
        ),
        (f"arn:aws:iam::{OTHER}:role/path/deploy",),
        "requestParameters.roleArn",
        id="sts-role-arn",
    ),
    pytest.param(
        "kinesis:PutRecord",
        call("PutRecord", {"streamName": "clicks"}),
        (f"arn:aws:kinesis:us-east-1:{ACCT}:stream/clicks",),
        "requestParameters.streamName",
        id="kinesis-stream-name",
    ),
    pytest.param(
        "kinesis:PutRecords",
        call("PutRecords", {"streamARN": f"arn:aws:kinesis:us-east-1:{OTHER}:stream/clicks"}),
        (f"arn:aws:kinesis:us-east-1:{OTHER}:stream/clicks",),
        "requestParameters.streamARN",
        id="kinesis-stream-arn",
    ),
    pytest.param(
        "firehose:PutRecordBatch",
        call("PutRecordBatch", {"deliveryStreamName": "events"}),
        (f"arn:aws:firehose:us-east-1:{ACCT}:deliverystream/events",),
        "requestParameters.deliveryStreamName",
        id="firehose-delivery-stream",
    ),
    pytest.param(
        "iam:PassRole",
        call(
            "RegisterTaskDefinition",
            {"family": "web", "taskRoleArn": f"arn:aws:iam::{ACCT}:role/web-task"},
        ),
        (f"arn:aws:iam::{ACCT}:role/web-task",),
        "requestParameters.taskRoleArn",
        id="passrole-role-in-the-passing-call",
    ),
    # -- ecs
    pytest.param(
        "ecs:RunTask",
        call("RunTask", {"cluster": "prod", "taskDefinition": "web:12"}),
        (f"arn:aws:ecs:us-east-1:{ACCT}:task-definition/web:12",),
        "requestParameters.taskDefinition",
        id="ecs-task-definition-revision",
    ),
    pytest.param(
        "ecs:RunTask",
        call("RunTask", {"taskDefinition": "web"}),
        (f"arn:aws:ecs:us-east-1:{ACCT}:task-definition/web:*",),
        "any revision",
        id="ecs-task-definition-family",
    ),
    pytest.param(
        "ecs:DescribeServices",
        call(
            "DescribeServices",
            {"cluster": f"arn:aws:ecs:us-east-1:{ACCT}:cluster/prod", "services": ["web"]},
        ),
        (f"arn:aws:ecs:us-east-1:{ACCT}:service/prod/web",),
        "requestParameters.services+cluster",
        id="ecs-services-in-cluster",
    ),
    pytest.param(
        "ecs:DescribeClusters",
        call("DescribeClusters", {}),
        (f"arn:aws:ecs:us-east-1:{ACCT}:cluster/default",),
        "default cluster",
        id="ecs-default-cluster",
    ),
    # -- generic fallback: resources[] of a service without a rule
    pytest.param(
        "sns:Subscribe",
        call(
            "Subscribe",
            {"protocol": "sqs"},
            ({"type": "AWS::SNS::Topic", "ARN": f"arn:aws:sns:us-east-1:{ACCT}:t"},),
        ),
        (f"arn:aws:sns:us-east-1:{ACCT}:t",),
        "resources[]",
        id="generic-resources",
    ),
    pytest.param(
        "dynamodb:PartiQLSelect",
        call(
            "ExecuteStatement",
            {"statement": "SELECT * FROM orders"},
            (
                {
                    "type": "AWS::DynamoDB::Table",
                    "ARN": f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",
                },
            ),
        ),
        (f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",),
        "resources[]",
        id="generic-resources-when-the-rule-finds-nothing",
    ),
    pytest.param(
        "sqs:SendMessage",
        call(
            "SendMessage",
            {"queueUrl": f"https://vpce-0a1b-xyz.sqs.eu-west-1.vpce.amazonaws.com/{ACCT}/jobs"},
        ),
        (f"arn:aws:sqs:eu-west-1:{ACCT}:jobs",),
        "queueUrl",
        id="sqs-url-vpc-endpoint",
    ),
    # -- actions without a resource
    pytest.param(
        "ecr:GetAuthorizationToken",
        call("GetAuthorizationToken", None),
        ("*",),
        "takes no resource",
        id="no-resource-ecr-token",
    ),
    pytest.param(
        "sts:GetCallerIdentity",
        call("GetCallerIdentity", None),
        ("*",),
        "takes no resource",
        id="no-resource-caller-identity",
    ),
]


@pytest.mark.parametrize(("action", "the_call", "arns", "how"), KNOWN)
def test_known(action: str, the_call: Call, arns: tuple[str, ...], how: str) -> None:
    derived = derive_resources(action, the_call)
    assert derived.known, derived.how
    assert derived.arns == tuple(sorted(arns))
    assert how in derived.how
    assert derived.action == catalog().canonical(action)


@pytest.mark.parametrize(("action", "the_call", "arns", "how"), KNOWN)
def test_every_derived_arn_has_the_shape_of_one_of_the_actions_resource_types(
    action: str, the_call: Call, arns: tuple[str, ...], how: str
) -> None:
    """The ARNs are built from the catalog's templates: each matches one of its patterns."""
    derived = derive_resources(action, the_call)
    types = catalog().resource_types_of(action)
    if derived.arns == ("*",):
        assert catalog().action(action).takes_no_resource  # type: ignore[union-attr]
        return
    for arn in derived.arns:
        # A derived pattern ("-??????", "*") is checked by turning its wildcards into literals.
        concrete = arn.replace("?", "x").replace("*", "x")
        assert any(matches(rt.arn_pattern, concrete, ignore_case=False) for rt in types), arn


UNKNOWN = [
    pytest.param(
        "logs:CreateLogStream",
        call("CreateLogStream", None),
        "the record has no requestParameters",
        id="no-request-parameters",
    ),
    pytest.param(
        "logs:CreateLogStream",
        call("CreateLogStream", {"logStreamName": "s"}),
        "no logGroupName",
        id="logs-missing-group",
    ),
    pytest.param(
        "secretsmanager:GetSecretValue",
        call("GetSecretValue", {"versionStage": "AWSCURRENT"}),
        "no secretId",
        id="secret-missing-id",
    ),
    pytest.param(
        "ssm:GetParameter",
        call("GetParameter", {"withDecryption": True}),
        "no name, names or path",
        id="ssm-missing-name",
    ),
    pytest.param(
        "sqs:SendMessage",
        call("SendMessage", {"queueUrl": "not a url"}),
        "not a queue URL",
        id="sqs-bad-url",
    ),
    pytest.param(
        "sqs:SendMessage",
        call("SendMessage", {"messageBody": "HIDDEN"}),
        "no queueUrl or queueName",
        id="sqs-missing-queue",
    ),
    pytest.param(
        "s3:GetObject",
        call("GetObject", {"key": "k"}),
        "no bucketName",
        id="s3-missing-bucket",
    ),
    pytest.param(
        "s3:GetObject",
        call("CopyObject", {"bucketName": "dst", "key": "k"}),
        "no x-amz-copy-source",
        id="s3-copy-without-source",
    ),
    pytest.param(
        "dynamodb:PartiQLSelect",
        call("ExecuteStatement", {"statement": "SELECT * FROM orders"}),
        "no tableName",
        id="ddb-partiql-statement-only",
    ),
    pytest.param(
        "ecr:BatchGetImage",
        call("BatchGetImage", {"imageIds": []}),
        "no repositoryName",
        id="ecr-missing-repository",
    ),
    pytest.param(
        "kms:Decrypt",
        call("Decrypt", {"keyId": "alias/app"}),
        "keyId is an alias (alias/app)",
        id="kms-alias-without-resources",
    ),
    pytest.param(
        "kms:Decrypt",
        call("Decrypt", {"keyId": f"arn:aws:kms:us-east-1:{ACCT}:alias/app"}),
        "is an alias",
        id="kms-alias-arn-without-resources",
    ),
    pytest.param(
        "kms:Decrypt",
        call("Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        "no key in resources[]",
        id="kms-decrypt-nothing",
    ),
    pytest.param(
        "kms:ReEncryptFrom",
        call(
            "ReEncrypt",
            {"destinationKeyId": "k2"},
            (
                {"type": "AWS::KMS::Key", "ARN": KEY_ARN},
                {"type": "AWS::KMS::Key", "ARN": KEY_ARN.replace("1234abcd", "9999ffff")},
            ),
        ),
        "which key this half of ReEncrypt",
        id="kms-reencrypt-ambiguous",
    ),
    pytest.param(
        "kms:CreateAlias",
        call("CreateAlias", {"aliasName": "alias/app"}),
        "which key the alias points to",
        id="kms-alias-half-only",
    ),
    pytest.param(
        "lambda:InvokeFunction",
        call("Invoke", {"invocationType": "Event"}),
        "no functionName",
        id="lambda-missing-function",
    ),
    pytest.param(
        "athena:GetQueryResults",
        call("GetQueryResults", {"queryExecutionId": "q-1"}),
        "does not say its workgroup",
        id="athena-query-id-only",
    ),
    pytest.param(
        "sns:Publish",
        call("Publish", {"phoneNumber": "HIDDEN"}),
        "topic",
        id="generic-nothing-fits",
    ),
    pytest.param(
        "iam:PassRole",
        call("RunTask", {"cluster": "prod"}),
        "role",
        id="passrole-nothing-passed",
    ),
    pytest.param(
        "s3:HeadObject",
        call("HeadObject", {"bucketName": "b"}),
        "not an IAM action in the catalog",
        id="event-name-is-not-an-action",
    ),
]


@pytest.mark.parametrize(("action", "the_call", "reason"), UNKNOWN)
def test_unknown_says_why(action: str, the_call: Call, reason: str) -> None:
    derived = derive_resources(action, the_call)
    assert derived == DerivedResources(derived.action, (), False, derived.how)
    assert reason in derived.how


@pytest.mark.parametrize(
    ("account", "region", "arn", "note"),
    [
        (None, "us-east-1", "arn:aws:logs:us-east-1:*:log-group:g:log-stream:s", "account unknown"),
        (ACCT, None, f"arn:aws:logs:*:{ACCT}:log-group:g:log-stream:s", "region unknown"),
    ],
)
def test_an_unknown_account_or_region_is_a_wildcard_and_said(
    account: str | None, region: str | None, arn: str, note: str
) -> None:
    the_call = call(
        "CreateLogStream",
        {"logGroupName": "g", "logStreamName": "s"},
        account=account,
        region=region,
    )
    derived = derive_resources("logs:CreateLogStream", the_call)
    assert derived.known
    assert derived.arns == (arn,)
    assert note in derived.how


def test_an_account_named_by_the_record_is_used_even_when_the_callers_is_unknown() -> None:
    the_call = call("BatchGetImage", {"repositoryName": "web", "registryId": OTHER}, account=None)
    derived = derive_resources("ecr:BatchGetImage", the_call)
    assert derived.arns == (f"arn:aws:ecr:us-east-1:{OTHER}:repository/web",)
    assert "account unknown" not in derived.how


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-central-2", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        (None, "aws"),
    ],
)
def test_partition_of(region: str | None, partition: str) -> None:
    assert partition_of(region) == partition


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("cn-north-1", f"arn:aws-cn:secretsmanager:cn-north-1:{ACCT}:secret:db-??????"),
        ("us-gov-west-1", f"arn:aws-us-gov:secretsmanager:us-gov-west-1:{ACCT}:secret:db-??????"),
    ],
)
def test_templates_are_filled_in_the_calls_partition(region: str, arn: str) -> None:
    derived = derive_resources(
        "secretsmanager:GetSecretValue", call("GetSecretValue", {"secretId": "db"}, region=region)
    )
    assert derived.arns == (arn,)


def test_arns_are_sorted_and_deduplicated() -> None:
    the_call = call("GetParameters", {"names": ["/b", "/a", "a"]})
    derived = derive_resources("ssm:GetParameters", the_call)
    assert derived.arns == (
        f"arn:aws:ssm:us-east-1:{ACCT}:parameter/a",
        f"arn:aws:ssm:us-east-1:{ACCT}:parameter/b",
    )


def test_action_case_does_not_matter() -> None:
    the_call = call("GetItem", {"tableName": "t"})
    assert derive_resources("DynamoDB:getitem", the_call) == derive_resources(
        "dynamodb:GetItem", the_call
    )
