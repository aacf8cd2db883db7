-- Stage one spool file (lines {"__s": file index, "Records": [...]}) as typed event rows.
-- Parameters: $spool (path). A line DuckDB cannot parse is skipped (ignore_errors) and its
-- file index is then missing from the result: the caller reads that file again carefully.
-- A file with no records yields one row with r IS NULL, so that it still counts as seen.
-- Fields come and go between eventVersions (DOMAIN.md section 3): every field is optional and
-- a value of an unexpected type reads as NULL.
CREATE OR REPLACE TEMP TABLE staged AS
WITH lines AS (
    SELECT
        "__s" AS s,
        unnest(CASE WHEN len(Records) = 0 THEN [NULL] ELSE Records END) AS r
    FROM read_json(
        $spool,
        format = 'newline_delimited',
        ignore_errors = true,
        maximum_object_size = 67108864,  -- 64 MiB: above cloudtrail.LARGE_FILE_BYTES
        columns = {
            '__s': 'INTEGER',
            'Records': 'STRUCT(
                eventID VARCHAR, eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR,
                awsRegion VARCHAR, recipientAccountId VARCHAR,
                userIdentity STRUCT(
                    "type" VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR,
                    accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR,
                    sessionContext STRUCT(sessionIssuer STRUCT(
                        "type" VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR,
                        userName VARCHAR))),
                sourceIPAddress VARCHAR, userAgent VARCHAR, errorCode VARCHAR, errorMessage VARCHAR,
                readOnly BOOLEAN, eventCategory VARCHAR, managementEvent BOOLEAN,
                eventType VARCHAR, eventVersion VARCHAR, requestID VARCHAR, sharedEventID VARCHAR,
                vpcEndpointId VARCHAR,
                resources STRUCT(ARN VARCHAR, "type" VARCHAR, accountId VARCHAR)[],
                requestParameters JSON, responseElements JSON, additionalEventData JSON)[]'
        }
    )
)
SELECT
    s,
    r IS NOT NULL AS is_record,
    r.eventName IS NOT NULL OR r.eventSource IS NOT NULL AS is_event,
    coalesce(
        r.eventID,
        'rs-' || md5(concat_ws(chr(31),
            r.eventTime, r.eventSource, r.eventName, r.awsRegion, r.userIdentity.arn,
            r.userIdentity.principalId, r.requestID, r.requestParameters::VARCHAR,
            r.sourceIPAddress, r.userAgent, r.errorCode))
    ) AS event_id,
    -- TIMESTAMPTZ honours an offset; naive strings are read as UTC (TimeZone is UTC).
    coalesce(
        try_strptime(r.eventTime, '%Y-%m-%dT%H:%M:%SZ'),
        try_cast(r.eventTime AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
    ) AS event_time,
    r.eventSource AS event_source,
    r.eventName AS event_name,
    r.awsRegion AS aws_region,
    coalesce(r.recipientAccountId, r.userIdentity.accountId) AS account,
    -- The role is sessionIssuer.arn: the sts assumed-role ARN drops the role's path (DOMAIN.md 2),
    -- so a record without sessionIssuer names no principal rather than a wrong one.
    CASE
        WHEN r.userIdentity."type" = 'AssumedRole'
            THEN r.userIdentity.sessionContext.sessionIssuer.arn
        WHEN r.userIdentity."type" = 'AWSService' THEN r.userIdentity.invokedBy
        ELSE r.userIdentity.arn
    END AS principal,
    r.userIdentity."type" AS identity_type,
    r.userIdentity.arn AS identity_arn,
    r.userIdentity.principalId AS principal_id,
    CASE WHEN r.userIdentity."type" = 'AssumedRole'
        THEN nullif(regexp_extract(r.userIdentity.arn, '/([^/]+)$', 1), '') END AS session_name,
    r.userIdentity.accessKeyId AS access_key_id,
    r.userIdentity.invokedBy AS invoked_by,
    r.sourceIPAddress AS source_ip,
    r.userAgent AS user_agent,
    r.errorCode AS error_code,
    r.errorMessage AS error_message,
    r.readOnly AS read_only,
    r.eventCategory AS event_category,
    r.managementEvent AS management_event,
    r.eventType AS event_type,
    r.eventVersion AS event_version,
    r.requestID AS request_id,
    r.sharedEventID AS shared_event_id,
    r.vpcEndpointId AS vpc_endpoint_id,
    list_transform(r.resources, lambda x: {'arn': x.ARN, 'type': x."type", 'account_id': x.accountId})
        AS resources,
    r.requestParameters AS request_parameters,
    -- Never store credentials (AssumeRole and GetSessionToken return session tokens).
    CASE
        WHEN json_exists(r.responseElements, '$.credentials')
            OR json_exists(r.responseElements, '$.roleCredentials')
        THEN json_merge_patch(r.responseElements, '{"credentials": null, "roleCredentials": null}')
        ELSE r.responseElements
    END AS response_elements,
    r.additionalEventData AS additional_event_data
FROM lines;
