-- What each role did: one row per principal x eventSource x eventName x region x account x
-- resource x day x error class x invokedBy, with counts, task sessions, first and last seen.
--
-- The "resource" is what the record says about it: request_key holds only the request
-- parameters that name a resource (rightsizer/iam/resources.py reads these keys, nothing
-- else), so parameters that change with every call (item contents, encryption contexts, byte
-- ranges) do not split rows; resource_arns are the resources[] ARNs, sorted.
-- error_class: ok | denied (an authorization failure: evidence of a missing permission, not of
-- use) | error (failed after authorization, e.g. not found or throttled).
-- Principals are roles (sessionIssuer.arn) of AssumedRole sessions only.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT
    principal,
    event_source,
    event_name,
    coalesce(aws_region, '')                                       AS region,
    coalesce(account, '')                                          AS account,
    -- Only the parameters present: a compact key, so rows group well and stay small.
    to_json(map_from_entries(list_filter([
        {'k': 'bucketName', 'v': request_parameters -> '$.bucketName'},
        -- an S3 object key; DynamoDB's "key" is the item's key attributes, not a resource
        {'k': 'key', 'v': CASE WHEN json_type(request_parameters, '$.key') = 'VARCHAR'
                               THEN request_parameters -> '$.key' END},
        {'k': 'x-amz-copy-source', 'v': request_parameters -> '$."x-amz-copy-source"'},
        {'k': 'copySource', 'v': request_parameters -> '$.copySource'},
        {'k': 'logGroupName', 'v': request_parameters -> '$.logGroupName'},
        {'k': 'logGroupIdentifier', 'v': request_parameters -> '$.logGroupIdentifier'},
        {'k': 'logStreamName', 'v': request_parameters -> '$.logStreamName'},
        {'k': 'secretId', 'v': request_parameters -> '$.secretId'},
        {'k': 'secretIdList', 'v': request_parameters -> '$.secretIdList'},
        {'k': 'name', 'v': request_parameters -> '$.name'},
        {'k': 'names', 'v': request_parameters -> '$.names'},
        {'k': 'path', 'v': request_parameters -> '$.path'},
        {'k': 'queueUrl', 'v': request_parameters -> '$.queueUrl'},
        {'k': 'queueName', 'v': request_parameters -> '$.queueName'},
        {'k': 'queueOwnerAWSAccountId', 'v': request_parameters -> '$.queueOwnerAWSAccountId'},
        {'k': 'tableName', 'v': request_parameters -> '$.tableName'},
        {'k': 'indexName', 'v': request_parameters -> '$.indexName'},
        {'k': 'requestItems', 'v': to_json(json_keys(request_parameters, '$.requestItems'))},
        {'k': 'transactItems',
         'v': to_json(json_extract(request_parameters, '$.transactItems[*].*.tableName'))},
        {'k': 'repositoryName', 'v': request_parameters -> '$.repositoryName'},
        {'k': 'registryId', 'v': request_parameters -> '$.registryId'},
        {'k': 'keyId', 'v': request_parameters -> '$.keyId'},
        {'k': 'sourceKeyId', 'v': request_parameters -> '$.sourceKeyId'},
        {'k': 'destinationKeyId', 'v': request_parameters -> '$.destinationKeyId'},
        {'k': 'targetKeyId', 'v': request_parameters -> '$.targetKeyId'},
        {'k': 'functionName', 'v': request_parameters -> '$.functionName'},
        {'k': 'qualifier', 'v': request_parameters -> '$.qualifier'},
        {'k': 'workGroup', 'v': request_parameters -> '$.workGroup'},
        {'k': 'streamName', 'v': request_parameters -> '$.streamName'},
        {'k': 'streamARN', 'v': request_parameters -> '$.streamARN'},
        {'k': 'deliveryStreamName', 'v': request_parameters -> '$.deliveryStreamName'},
        {'k': 'topicArn', 'v': request_parameters -> '$.topicArn'},
        {'k': 'targetArn', 'v': request_parameters -> '$.targetArn'},
        {'k': 'roleArn', 'v': request_parameters -> '$.roleArn'},
        {'k': 'resourceArn', 'v': request_parameters -> '$.resourceArn'},
        {'k': 'cluster', 'v': request_parameters -> '$.cluster'},
        {'k': 'taskDefinition', 'v': request_parameters -> '$.taskDefinition'},
        {'k': 'stateMachineArn', 'v': request_parameters -> '$.stateMachineArn'}
    ], lambda e: e.v IS NOT NULL AND e.v::VARCHAR NOT IN ('[]', 'null'))))::VARCHAR
                                                                    AS request_key,
    list_sort(list_distinct([r."ARN" FOR r IN coalesce(resources, []) IF r."ARN" IS NOT NULL]))
                                                                    AS resource_arns,
    CAST(event_time AS DATE)                                        AS day,
    CASE
        WHEN error_code IS NULL THEN 'ok'
        WHEN error_code ILIKE '%AccessDenied%' OR error_code ILIKE '%Unauthorized%'
          OR error_code IN ('AuthorizationError', 'AuthorizationErrorException',
                            'Forbidden', 'ForbiddenException') THEN 'denied'
        ELSE 'error'
    END                                                             AS error_class,
    coalesce(invoked_by, '')                                        AS invoked_by,
    count(*)                                                        AS calls,
    count(DISTINCT session_name)                                    AS sessions,
    min(event_time)                                                 AS first_seen,
    max(event_time)                                                 AS last_seen,
    any_value(error_code)                                           AS error_code
FROM events
WHERE identity_type = 'AssumedRole'
  AND principal IS NOT NULL
  AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
GROUP BY ALL
ORDER BY ALL
