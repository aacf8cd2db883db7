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
-- written as text: each parameter's quoted name, a colon and its value joined by ||, NULL
-- (and so left out by concat_ws) when the value is absent, JSON null or []. It was to_json of a
-- map built by lambdas over a list of structs, the same text: on 1M simulated events the query
-- took 2.2 s that way and 1.1-1.5 s this way (a count over the query, scratch timer, two runs
-- each).
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
-- $1, $2: the window [since, until), NULL for open ends. $3: the roles whose every call is
-- wanted, by role_key_text (role_key.sql), or NULL for every role; another role's rows are then
-- its refused calls alone (error class denied). They are left out before the events are
-- grouped, not after: on 10M simulated events, 20% of the calls were other roles' (a Lambda
-- role's, an SSM session role's, ECS's service-linked role's), which the analysis of the ECS
-- roles does not read.
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
), kept_principals AS (  -- the principals of the roles in $3: a few hundred at most
    SELECT principal
    FROM (SELECT DISTINCT principal FROM events
          WHERE $3::VARCHAR[] IS NOT NULL AND identity_type = 'AssumedRole')
    WHERE role_key_text(principal) IN (SELECT unnest($3::VARCHAR[]))
), calls AS (
    -- The events grouped as stored first: many calls share their request parameters, and the
    -- resource key below (a parse and a filter of ~40 keys) then runs once per group, not per
    -- call. Every column kept is one the rows below group by or fold (count, min, max), and
    -- of resources[] only the ARNs, all the rows keep of it: grouping by the lists of
    -- structs cost more (the stored 10M account's usage rows took 21.0-26.9 s this way and
    -- 23.6-30.3 s that way, four alternated runs).
    SELECT
        principal, event_source, event_name, aws_region, account, request_parameters,
        [r."ARN" FOR r IN resources]                                AS arns,
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
      AND ($3::VARCHAR[] IS NULL OR error_class(error_code) = 'denied'
           OR principal IN (SELECT principal FROM kept_principals))
    GROUP BY ALL
), picked AS (
    SELECT
        principal, event_source, event_name, aws_region, account, day,
        list_sort(list_distinct([arn FOR arn IN coalesce(arns, []) IF arn IS NOT NULL]))
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
        '"bucketName":' || nullif(nullif(params[1]::VARCHAR, '[]'), 'null'),
        CASE WHEN json_type(params[2]) = 'VARCHAR' THEN '"key":' || params[2] END,
        '"x-amz-copy-source":' || nullif(nullif(params[3]::VARCHAR, '[]'), 'null'),
        '"copySource":' || nullif(nullif(params[4]::VARCHAR, '[]'), 'null'),
        '"logGroupName":' || nullif(nullif(params[5]::VARCHAR, '[]'), 'null'),
        '"logGroupIdentifier":' || nullif(nullif(params[6]::VARCHAR, '[]'), 'null'),
        '"logStreamName":' || nullif(nullif(params[7]::VARCHAR, '[]'), 'null'),
        '"secretId":' || nullif(nullif(params[8]::VARCHAR, '[]'), 'null'),
        '"secretIdList":' || nullif(nullif(params[9]::VARCHAR, '[]'), 'null'),
        '"name":' || nullif(nullif(params[10]::VARCHAR, '[]'), 'null'),
        '"names":' || nullif(nullif(params[11]::VARCHAR, '[]'), 'null'),
        '"path":' || nullif(nullif(params[12]::VARCHAR, '[]'), 'null'),
        '"queueUrl":' || nullif(nullif(params[13]::VARCHAR, '[]'), 'null'),
        '"queueName":' || nullif(nullif(params[14]::VARCHAR, '[]'), 'null'),
        '"queueOwnerAWSAccountId":' || nullif(nullif(params[15]::VARCHAR, '[]'), 'null'),
        '"tableName":' || nullif(nullif(params[16]::VARCHAR, '[]'), 'null'),
        '"indexName":' || nullif(nullif(params[17]::VARCHAR, '[]'), 'null'),
        '"requestItems":' || nullif(to_json(json_keys(params[18]))::VARCHAR, '[]'),
        '"transactItems":' || nullif(to_json(json_extract(params[19], '$[*].*.tableName'))::VARCHAR,
                                     '[]'),
        '"repositoryName":' || nullif(nullif(params[20]::VARCHAR, '[]'), 'null'),
        '"registryId":' || nullif(nullif(params[21]::VARCHAR, '[]'), 'null'),
        '"keyId":' || nullif(nullif(params[22]::VARCHAR, '[]'), 'null'),
        '"sourceKeyId":' || nullif(nullif(params[23]::VARCHAR, '[]'), 'null'),
        '"destinationKeyId":' || nullif(nullif(params[24]::VARCHAR, '[]'), 'null'),
        '"targetKeyId":' || nullif(nullif(params[25]::VARCHAR, '[]'), 'null'),
        '"functionName":' || nullif(nullif(params[26]::VARCHAR, '[]'), 'null'),
        '"qualifier":' || nullif(nullif(params[27]::VARCHAR, '[]'), 'null'),
        '"workGroup":' || nullif(nullif(params[28]::VARCHAR, '[]'), 'null'),
        '"streamName":' || nullif(nullif(params[29]::VARCHAR, '[]'), 'null'),
        '"streamARN":' || nullif(nullif(params[30]::VARCHAR, '[]'), 'null'),
        '"deliveryStreamName":' || nullif(nullif(params[31]::VARCHAR, '[]'), 'null'),
        '"topicArn":' || nullif(nullif(params[32]::VARCHAR, '[]'), 'null'),
        '"targetArn":' || nullif(nullif(params[33]::VARCHAR, '[]'), 'null'),
        '"roleArn":' || nullif(nullif(params[34]::VARCHAR, '[]'), 'null'),
        '"resourceArn":' || nullif(nullif(params[35]::VARCHAR, '[]'), 'null'),
        '"cluster":' || nullif(nullif(params[36]::VARCHAR, '[]'), 'null'),
        '"taskDefinition":' || nullif(nullif(params[37]::VARCHAR, '[]'), 'null'),
        '"stateMachineArn":' || nullif(nullif(params[38]::VARCHAR, '[]'), 'null')
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
  AND ($3::VARCHAR[] IS NULL OR error_class = 'denied'
       OR role_key_text(principal) IN (SELECT unnest($3::VARCHAR[])))
