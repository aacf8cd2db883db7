-- What each role did: one row per principal x eventSource x eventName x region x account x
-- resource x day x error class x invokedBy, with the calls, first and last seen.
--
-- The "resource" is what the record says about it: request_key holds only the request
-- parameters that name a resource (rightsizer/iam/resource_rules.py reads these keys, nothing
-- else), so parameters that change with every call (item contents, encryption contexts, byte
-- ranges) do not split rows; resource_arns are the resources[] ARNs, sorted. The parameters are
-- picked with one json_extract of many paths, once per group of calls whose stored records
-- agree (``calls``), not once per call: on 1M simulated events that took the query from 3.6-4.0 s
-- to 1.8-2.3 s. The key is the compact JSON object of the parameters present, in the order of
-- the paths (rightsizer/sources/athena.py PARAMETERS builds the same text from Athena's rows),
-- written as text by one CASE per parameter. It was to_json of a map built by lambdas over a
-- list of structs, the same text: on 1M simulated events the query took 2.2 s that way and
-- 1.1-1.5 s this way (a count over the query, scratch timer, two runs each).
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
        json_extract(request_parameters, [
            '$.bucketName', '$.key', '$."x-amz-copy-source"', '$.copySource', '$.logGroupName', '$.logGroupIdentifier',
            '$.logStreamName', '$.secretId', '$.secretIdList', '$.name', '$.names', '$.path',
            '$.queueUrl', '$.queueName', '$.queueOwnerAWSAccountId', '$.tableName', '$.indexName', '$.requestItems',
            '$.transactItems', '$.repositoryName', '$.registryId', '$.keyId', '$.sourceKeyId', '$.destinationKeyId',
            '$.targetKeyId', '$.functionName', '$.qualifier', '$.workGroup', '$.streamName', '$.streamARN',
            '$.deliveryStreamName', '$.topicArn', '$.targetArn', '$.roleArn', '$.resourceArn', '$.cluster',
            '$.taskDefinition', '$.stateMachineArn'
        ]) AS params
    FROM calls
)
SELECT
    principal,
    event_source,
    event_name,
    coalesce(aws_region, '')                                        AS region,
    coalesce(account, '')                                           AS account,
    '{' || concat_ws(',',
        CASE WHEN params[1]::VARCHAR NOT IN ('[]', 'null') THEN '"bucketName":' || params[1] END,
        CASE WHEN json_type(params[2]) = 'VARCHAR' THEN '"key":' || params[2] END,
        CASE WHEN params[3]::VARCHAR NOT IN ('[]', 'null') THEN '"x-amz-copy-source":' || params[3] END,
        CASE WHEN params[4]::VARCHAR NOT IN ('[]', 'null') THEN '"copySource":' || params[4] END,
        CASE WHEN params[5]::VARCHAR NOT IN ('[]', 'null') THEN '"logGroupName":' || params[5] END,
        CASE WHEN params[6]::VARCHAR NOT IN ('[]', 'null') THEN '"logGroupIdentifier":' || params[6] END,
        CASE WHEN params[7]::VARCHAR NOT IN ('[]', 'null') THEN '"logStreamName":' || params[7] END,
        CASE WHEN params[8]::VARCHAR NOT IN ('[]', 'null') THEN '"secretId":' || params[8] END,
        CASE WHEN params[9]::VARCHAR NOT IN ('[]', 'null') THEN '"secretIdList":' || params[9] END,
        CASE WHEN params[10]::VARCHAR NOT IN ('[]', 'null') THEN '"name":' || params[10] END,
        CASE WHEN params[11]::VARCHAR NOT IN ('[]', 'null') THEN '"names":' || params[11] END,
        CASE WHEN params[12]::VARCHAR NOT IN ('[]', 'null') THEN '"path":' || params[12] END,
        CASE WHEN params[13]::VARCHAR NOT IN ('[]', 'null') THEN '"queueUrl":' || params[13] END,
        CASE WHEN params[14]::VARCHAR NOT IN ('[]', 'null') THEN '"queueName":' || params[14] END,
        CASE WHEN params[15]::VARCHAR NOT IN ('[]', 'null') THEN '"queueOwnerAWSAccountId":' || params[15] END,
        CASE WHEN params[16]::VARCHAR NOT IN ('[]', 'null') THEN '"tableName":' || params[16] END,
        CASE WHEN params[17]::VARCHAR NOT IN ('[]', 'null') THEN '"indexName":' || params[17] END,
        CASE WHEN to_json(json_keys(params[18]))::VARCHAR NOT IN ('[]', 'null')
             THEN '"requestItems":' || to_json(json_keys(params[18])) END,
        CASE WHEN to_json(json_extract(params[19], '$[*].*.tableName'))::VARCHAR NOT IN ('[]', 'null')
             THEN '"transactItems":' || to_json(json_extract(params[19], '$[*].*.tableName')) END,
        CASE WHEN params[20]::VARCHAR NOT IN ('[]', 'null') THEN '"repositoryName":' || params[20] END,
        CASE WHEN params[21]::VARCHAR NOT IN ('[]', 'null') THEN '"registryId":' || params[21] END,
        CASE WHEN params[22]::VARCHAR NOT IN ('[]', 'null') THEN '"keyId":' || params[22] END,
        CASE WHEN params[23]::VARCHAR NOT IN ('[]', 'null') THEN '"sourceKeyId":' || params[23] END,
        CASE WHEN params[24]::VARCHAR NOT IN ('[]', 'null') THEN '"destinationKeyId":' || params[24] END,
        CASE WHEN params[25]::VARCHAR NOT IN ('[]', 'null') THEN '"targetKeyId":' || params[25] END,
        CASE WHEN params[26]::VARCHAR NOT IN ('[]', 'null') THEN '"functionName":' || params[26] END,
        CASE WHEN params[27]::VARCHAR NOT IN ('[]', 'null') THEN '"qualifier":' || params[27] END,
        CASE WHEN params[28]::VARCHAR NOT IN ('[]', 'null') THEN '"workGroup":' || params[28] END,
        CASE WHEN params[29]::VARCHAR NOT IN ('[]', 'null') THEN '"streamName":' || params[29] END,
        CASE WHEN params[30]::VARCHAR NOT IN ('[]', 'null') THEN '"streamARN":' || params[30] END,
        CASE WHEN params[31]::VARCHAR NOT IN ('[]', 'null') THEN '"deliveryStreamName":' || params[31] END,
        CASE WHEN params[32]::VARCHAR NOT IN ('[]', 'null') THEN '"topicArn":' || params[32] END,
        CASE WHEN params[33]::VARCHAR NOT IN ('[]', 'null') THEN '"targetArn":' || params[33] END,
        CASE WHEN params[34]::VARCHAR NOT IN ('[]', 'null') THEN '"roleArn":' || params[34] END,
        CASE WHEN params[35]::VARCHAR NOT IN ('[]', 'null') THEN '"resourceArn":' || params[35] END,
        CASE WHEN params[36]::VARCHAR NOT IN ('[]', 'null') THEN '"cluster":' || params[36] END,
        CASE WHEN params[37]::VARCHAR NOT IN ('[]', 'null') THEN '"taskDefinition":' || params[37] END,
        CASE WHEN params[38]::VARCHAR NOT IN ('[]', 'null') THEN '"stateMachineArn":' || params[38] END
    ) || '}'                                                    AS request_key,
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
