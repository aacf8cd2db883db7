-- What each ECS role did, aggregated in Athena (Trino): the organization-scale twin of
-- queries/duckdb/analysis/usage.sql. One row per principal x eventSource x eventName x region x
-- account x resource x day x error class x invokedBy, with calls, task sessions, first and last
-- seen; plus one 'ecs_assume' row per role and day that ECS assumed it for tasks (the evidence
-- queries/duckdb/inventory/ecs_assumed_roles.sql reads locally). Only this comes home.
--
-- Cost is bytes scanned and gzip JSON has no column pruning, so the partition filter is the lever
--: `account` (injected for organization trails: it must be given) and the
-- delivery date `timestamp` ('yyyy/MM/dd'). A file is delivered on or after the day its events
-- happened, so the window [since, until) reads the partitions from since's day to until's day
-- (one day of slack for events of the last day delivered after midnight), then filters eventtime.
--
-- CloudTrail delivers at least once: duplicates of an eventid are dropped before counting.
-- The resource-naming request parameters are picked as one JSON array, in the order of
-- rightsizer/sources/athena.py PARAMETERS (the loader turns it into usage.sql's request_key):
-- S3 "key" only when a string (DynamoDB's key is an item), requestItems as its table names,
-- transactItems as the tables inside.
-- A role is included when ECS was seen assuming it in these partitions, or when it is one of the
-- principals given (roles that trust ecs-tasks or that task definitions name).
-- A call across accounts is recorded in the caller's account and the resource owner's, with one
-- sharedEventID (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/shared-event-ID.html):
-- queried one account at a time, the owner's copy is left out when the caller's account is
-- also queried in this run (its copy is counted there, by the same organization trail), so the
-- call counts once, on the role that made it.
--
-- Parameters (qmark, bound by Athena, never formatted in):
--   1 account, 2 first partition 'yyyy/MM/dd', 3 last partition 'yyyy/MM/dd',
--   4 since and 5 until (ISO 8601 UTC instants), 6 the accounts queried in this run (one a
--   line), 7 extra principals (role ARNs, one a line).
WITH scoped AS (
    SELECT
        eventid,
        eventsource,
        eventname,
        awsregion,
        coalesce(recipientaccountid, useridentity.accountid) AS account_id,
        useridentity.accountid AS caller_account,
        sharedeventid AS shared_event_id,
        CAST(from_iso8601_timestamp(eventtime) AS timestamp) AS event_time,
        useridentity.type AS identity_type,
        useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
        useridentity.arn AS identity_arn,
        useridentity.invokedby AS invoked_by,
        errorcode,
        requestparameters,
        resources
    FROM cloudtrail
    WHERE account = ?
      AND "timestamp" BETWEEN ? AND ?
      AND from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(?)
      AND from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(?)
      AND (useridentity.type = 'AssumedRole'
           OR (eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole'
               AND useridentity.invokedby = 'ecs-tasks.amazonaws.com'))
),
deduplicated AS (
    SELECT *
    FROM (
        SELECT scoped.*, row_number() OVER (PARTITION BY eventid ORDER BY event_time) AS copy
        FROM scoped
    )
    WHERE eventid IS NULL OR copy = 1
),
calls AS (
    SELECT
        'call' AS kind,
        issuer_arn AS principal,
        eventsource AS event_source,
        eventname AS event_name,
        coalesce(awsregion, '') AS region,
        coalesce(account_id, '') AS account_id,
        -- '[' || ... || ']' rather than a cast of the array: DuckDB, where the tests run this
        -- query, casts an array of JSON to text, not to a JSON array.
        '[' || array_join(transform(ARRAY[
            json_extract(requestparameters, '$.bucketName'),
            CASE WHEN starts_with(json_format(json_extract(requestparameters, '$.key')), '"')
                 THEN json_extract(requestparameters, '$.key') END,
            json_extract(requestparameters, '$["x-amz-copy-source"]'),
            json_extract(requestparameters, '$.copySource'),
            json_extract(requestparameters, '$.logGroupName'),
            json_extract(requestparameters, '$.logGroupIdentifier'),
            json_extract(requestparameters, '$.logStreamName'),
            json_extract(requestparameters, '$.secretId'),
            json_extract(requestparameters, '$.secretIdList'),
            json_extract(requestparameters, '$.name'),
            json_extract(requestparameters, '$.names'),
            json_extract(requestparameters, '$.path'),
            json_extract(requestparameters, '$.queueUrl'),
            json_extract(requestparameters, '$.queueName'),
            json_extract(requestparameters, '$.queueOwnerAWSAccountId'),
            json_extract(requestparameters, '$.tableName'),
            json_extract(requestparameters, '$.indexName'),
            CAST(map_keys(CAST(json_extract(requestparameters, '$.requestItems')
                               AS MAP(VARCHAR, JSON))) AS JSON),
            CAST(transform(
                CAST(json_extract(requestparameters, '$.transactItems') AS ARRAY(MAP(VARCHAR, JSON))),
                item -> json_extract_scalar(element_at(map_values(item), 1), '$.tableName'))
                AS JSON),
            json_extract(requestparameters, '$.repositoryName'),
            json_extract(requestparameters, '$.registryId'),
            json_extract(requestparameters, '$.keyId'),
            json_extract(requestparameters, '$.sourceKeyId'),
            json_extract(requestparameters, '$.destinationKeyId'),
            json_extract(requestparameters, '$.targetKeyId'),
            json_extract(requestparameters, '$.functionName'),
            json_extract(requestparameters, '$.qualifier'),
            json_extract(requestparameters, '$.workGroup'),
            json_extract(requestparameters, '$.streamName'),
            json_extract(requestparameters, '$.streamARN'),
            json_extract(requestparameters, '$.deliveryStreamName'),
            json_extract(requestparameters, '$.topicArn'),
            json_extract(requestparameters, '$.targetArn'),
            json_extract(requestparameters, '$.roleArn'),
            json_extract(requestparameters, '$.resourceArn'),
            json_extract(requestparameters, '$.cluster'),
            json_extract(requestparameters, '$.taskDefinition'),
            json_extract(requestparameters, '$.stateMachineArn')
        ], p -> coalesce(json_format(p), 'null')), ',') || ']' AS parameters,
        json_format(CAST(array_sort(array_distinct(
            transform(filter(coalesce(resources, ARRAY[]), r -> r.arn IS NOT NULL), r -> r.arn)
        )) AS JSON)) AS resource_arns,
        CAST(event_time AS date) AS day,
        CASE
            WHEN errorcode IS NULL THEN 'ok'
            WHEN lower(errorcode) LIKE '%accessdenied%' OR lower(errorcode) LIKE '%unauthorized%'
              OR errorcode IN ('AuthorizationError', 'AuthorizationErrorException',
                               'Forbidden', 'ForbiddenException') THEN 'denied'
            ELSE 'error'
        END AS error_class,
        coalesce(invoked_by, '') AS invoked_by,
        -- arn:aws:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME: the session is the task ID
        nullif(split_part(identity_arn, '/', 3), '') AS session,
        event_time,
        errorcode
    FROM deduplicated
    WHERE identity_type = 'AssumedRole' AND issuer_arn IS NOT NULL
      AND NOT (shared_event_id IS NOT NULL AND caller_account IS NOT NULL
               AND caller_account <> account_id
               AND contains(split(?, chr(10)), caller_account))
),
assumed AS (
    SELECT
        'ecs_assume' AS kind,
        json_extract_scalar(requestparameters, '$.roleArn') AS principal,
        eventsource AS event_source,
        eventname AS event_name,
        coalesce(awsregion, '') AS region,
        coalesce(account_id, '') AS account_id,
        '[]' AS parameters,
        '[]' AS resource_arns,
        CAST(event_time AS date) AS day,
        'ok' AS error_class,
        coalesce(invoked_by, '') AS invoked_by,
        json_extract_scalar(requestparameters, '$.roleSessionName') AS session,
        event_time,
        errorcode
    FROM deduplicated
    WHERE eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole'
      AND invoked_by = 'ecs-tasks.amazonaws.com'
      AND errorcode IS NULL
      AND json_extract_scalar(requestparameters, '$.roleArn') IS NOT NULL
),
grouped AS (
    SELECT
        kind, principal, event_source, event_name, region, account_id, parameters,
        resource_arns, day, error_class, invoked_by,
        count(*) AS calls,
        count(DISTINCT session) AS sessions,
        min(event_time) AS first_seen,
        max(event_time) AS last_seen,
        min(errorcode) AS error_code
    FROM (SELECT * FROM calls UNION ALL SELECT * FROM assumed)
    GROUP BY kind, principal, event_source, event_name, region, account_id, parameters,
             resource_arns, day, error_class, invoked_by
),
ecs_roles AS (
    SELECT DISTINCT principal FROM grouped WHERE kind = 'ecs_assume'
)
SELECT
    kind, principal, event_source, event_name, region, account_id, parameters, resource_arns,
    day, error_class, invoked_by, calls, sessions, first_seen, last_seen, error_code
FROM grouped
WHERE principal IN (SELECT principal FROM ecs_roles)
   OR contains(split(?, chr(10)), principal)
