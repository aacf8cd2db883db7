-- What each role did: one row per principal x eventSource x eventName x region x account x
-- resource x day x error class x invokedBy, with the calls, first and last seen.
--
-- The "resource" is what the record says about it: request_key holds only the request
-- parameters that name a resource (rightsizer/iam/resource_rules.py reads these keys, nothing
-- else), so parameters that change with every call (item contents, encryption contexts, byte
-- ranges) do not split rows; resource_arns are the resources[] ARNs, sorted. The parameters are
-- picked with one json_extract of many paths, once per group of calls whose stored records
-- agree (``calls``), not once per call: on 1M simulated events that took the query from 3.6-4.0 s
-- to 1.8-2.3 s.
-- Special cases: an S3 "key" is a string (DynamoDB's "key" is the item's key attributes, not a
-- resource); requestItems keeps only its table names; transactItems only the tables inside.
-- error_class: ok | denied | error, by error_class.sql.
-- Principals are roles (sessionIssuer.arn) of AssumedRole sessions only. Task sessions per call
-- are counted by call_sessions.sql (a distinct count here would hold every row in memory).
-- Rows come in no particular order (sorting half a million rows costs seconds): callers that
-- need an order sort what they derive.
-- Rows aggregated in Athena (athena_usage, kind 'call') come as they were stored: the same
-- columns, computed by queries/athena/usage.sql (a row overlapping the window is in it).
-- A call across accounts is recorded in the caller's account and in the resource owner's, with one
-- sharedEventID and two eventIDs (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
-- shared-event-ID.html): the owner's copy is left out when the caller's copy is stored, so the
-- call counts once, on the role that made it. Without the caller's copy (its account's logs not
-- read, or its trail not recording that data event) the owner's copy is the evidence and counts.
-- $1, $2: the window [since, until), NULL for open ends.
WITH other_account_copies AS (
    SELECT event_id
    FROM (
        SELECT event_id, account = split_part(principal, ':', 5) AS in_callers_account,
               bool_or(account = split_part(principal, ':', 5))
                   OVER (PARTITION BY shared_event_id, principal) AS callers_copy_stored
        FROM events
        WHERE shared_event_id IS NOT NULL
          AND identity_type = 'AssumedRole'
          AND principal IS NOT NULL
          AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
          AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
    )
    WHERE callers_copy_stored AND NOT in_callers_account
), calls AS (
    -- The events grouped as stored first: many calls share their request parameters, and the
    -- resource key below (a parse and a filter of ~40 keys) then runs once per group, not per
    -- call. Every column kept is one the rows below group by or fold (count, min, max).
    SELECT
        principal, event_source, event_name, aws_region, account, request_parameters,
        resources,
        CAST(event_time AS DATE)                                    AS day,
        error_code, invoked_by,
        count(*)                                                    AS calls,
        min(event_time)                                             AS first_seen,
        max(event_time)                                             AS last_seen
    FROM events
    WHERE identity_type = 'AssumedRole'
      AND principal IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
      AND (shared_event_id IS NULL
           OR event_id NOT IN (SELECT event_id FROM other_account_copies))
    GROUP BY ALL
), picked AS (
    SELECT
        principal, event_source, event_name, aws_region, account, day,
        list_sort(list_distinct([r."ARN" FOR r IN coalesce(resources, []) IF r."ARN" IS NOT NULL]))
                                                                    AS resource_arns,
        error_code, invoked_by, calls, first_seen, last_seen,
        list_zip([
            'bucketName', 'key', 'x-amz-copy-source', 'copySource', 'logGroupName', 'logGroupIdentifier',
            'logStreamName', 'secretId', 'secretIdList', 'name', 'names', 'path',
            'queueUrl', 'queueName', 'queueOwnerAWSAccountId', 'tableName', 'indexName', 'requestItems',
            'transactItems', 'repositoryName', 'registryId', 'keyId', 'sourceKeyId', 'destinationKeyId',
            'targetKeyId', 'functionName', 'qualifier', 'workGroup', 'streamName', 'streamARN',
            'deliveryStreamName', 'topicArn', 'targetArn', 'roleArn', 'resourceArn', 'cluster',
            'taskDefinition', 'stateMachineArn'
        ], json_extract(request_parameters, [
            '$.bucketName', '$.key', '$."x-amz-copy-source"', '$.copySource', '$.logGroupName', '$.logGroupIdentifier',
            '$.logStreamName', '$.secretId', '$.secretIdList', '$.name', '$.names', '$.path',
            '$.queueUrl', '$.queueName', '$.queueOwnerAWSAccountId', '$.tableName', '$.indexName', '$.requestItems',
            '$.transactItems', '$.repositoryName', '$.registryId', '$.keyId', '$.sourceKeyId', '$.destinationKeyId',
            '$.targetKeyId', '$.functionName', '$.qualifier', '$.workGroup', '$.streamName', '$.streamARN',
            '$.deliveryStreamName', '$.topicArn', '$.targetArn', '$.roleArn', '$.resourceArn', '$.cluster',
            '$.taskDefinition', '$.stateMachineArn'
        ])) AS params
    FROM calls
)
SELECT
    principal,
    event_source,
    event_name,
    coalesce(aws_region, '')                                        AS region,
    coalesce(account, '')                                           AS account,
    to_json(map_from_entries(list_filter(list_transform(params, lambda p: {
        'k': p[1],
        'v': CASE
                 WHEN p[1] = 'key' AND json_type(p[2]) != 'VARCHAR' THEN NULL
                 WHEN p[1] = 'requestItems' THEN to_json(json_keys(p[2]))
                 WHEN p[1] = 'transactItems' THEN to_json(json_extract(p[2], '$[*].*.tableName'))
                 ELSE p[2]
             END
    }), lambda e: e.v IS NOT NULL AND e.v::VARCHAR NOT IN ('[]', 'null'))))::VARCHAR
                                                                    AS request_key,
    resource_arns,
    day,
    error_class(error_code)                                         AS error_class,
    coalesce(invoked_by, '')                                        AS invoked_by,
    sum(calls)::BIGINT                                              AS calls,
    min(first_seen)                                                 AS first_seen,
    max(last_seen)                                                  AS last_seen,
    min(error_code)                                                 AS error_code
FROM picked
GROUP BY ALL
UNION ALL
SELECT
    principal, event_source, event_name, region, account, request_key, resource_arns, day,
    error_class, invoked_by, calls, first_seen, last_seen, error_code
FROM athena_usage
WHERE kind = 'call'
  AND ($1::TIMESTAMP IS NULL OR last_seen >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR first_seen < $2::TIMESTAMP)
