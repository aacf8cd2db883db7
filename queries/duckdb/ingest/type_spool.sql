-- Type one spool file (one event a line, {"__s": file index, ...event fields}) into the rows
-- of `pending` (see create_pending.sql) less their spool number; run by the reader processes
-- (rightsizer/store/staging.py), so that the store's one writer only copies typed rows in
-- (stage_spool.sql). Parameters: $spool (path), $secret_keys (redact.sql_secret_keys). A line
-- DuckDB cannot parse is skipped (ignore_errors): the store compares the events read per
-- file with the number the reader wrote, and reads a file that differs again carefully.
-- Fields come and go between eventVersions: every field is optional and a value of an
-- unexpected type reads as NULL.
WITH lines AS (
    SELECT "__s" AS s, *
    FROM read_json(
        $spool,
        format = 'newline_delimited',
        ignore_errors = true,
        maximum_object_size = 16777216,  -- one event is at most 256 KB
        columns = {
            '__s': 'INTEGER',
            eventID: 'VARCHAR', eventTime: 'VARCHAR', eventSource: 'VARCHAR',
            eventName: 'VARCHAR', awsRegion: 'VARCHAR', recipientAccountId: 'VARCHAR',
            userIdentity: 'STRUCT(
                "type" VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR,
                accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR,
                sessionContext STRUCT(sessionIssuer STRUCT(
                    "type" VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR,
                    userName VARCHAR)))',
            sourceIPAddress: 'VARCHAR', userAgent: 'VARCHAR', errorCode: 'VARCHAR',
            errorMessage: 'VARCHAR', readOnly: 'BOOLEAN', eventCategory: 'VARCHAR',
            managementEvent: 'BOOLEAN', eventType: 'VARCHAR', eventVersion: 'VARCHAR',
            requestID: 'VARCHAR', sharedEventID: 'VARCHAR', vpcEndpointId: 'VARCHAR',
            resources: 'STRUCT("ARN" VARCHAR, "type" VARCHAR, "accountId" VARCHAR)[]',
            requestParameters: 'JSON'
        }
    )
)
SELECT
    s,
    r.eventName IS NOT NULL OR r.eventSource IS NOT NULL AS is_event,
    CASE WHEN r.eventID IS NOT NULL THEN r.eventID
        ELSE 'rs-' || md5(concat_ws(chr(31),
            r.eventTime, r.eventSource, r.eventName, r.awsRegion, r.userIdentity.arn,
            r.userIdentity.principalId, r.requestID, r.requestParameters::VARCHAR,
            r.sourceIPAddress, r.userAgent, r.errorCode))
    END AS event_id,
    -- CloudTrail writes UTC with a Z, which a TIMESTAMP cast reads; any other form goes through
    -- TIMESTAMPTZ, which honours an offset (naive strings are UTC: TimeZone is UTC).
    CASE WHEN ends_with(r.eventTime, 'Z') THEN try_cast(r.eventTime AS TIMESTAMP)
        ELSE try_cast(r.eventTime AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
    END AS event_time,
    r.eventSource AS event_source,
    r.eventName AS event_name,
    r.awsRegion AS aws_region,
    coalesce(r.recipientAccountId, r.userIdentity.accountId) AS account,
    -- The role is sessionIssuer.arn: the sts assumed-role ARN drops the role's path,
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
    -- arn:aws:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME (neither name holds a '/').
    CASE WHEN r.userIdentity."type" = 'AssumedRole'
        THEN nullif(split_part(r.userIdentity.arn, '/', 3), '') END AS session_name,
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
    r.resources AS resources,
    -- Secret values are replaced before they are stored (rightsizer/store/redact.py): only
    -- the few records that can hold one go to Python, those with a key that may be a secret's
    -- ($secret_keys) or with an escape or a character outside ASCII, which hide a key's name.
    CASE WHEN contains(r.requestParameters::VARCHAR, '\')
          OR strlen(r.requestParameters::VARCHAR) <> length(r.requestParameters::VARCHAR)
          OR regexp_matches(r.requestParameters::VARCHAR, $secret_keys)
        THEN rs_redact(r.eventSource, r.requestParameters::VARCHAR)::JSON
        ELSE r.requestParameters
    END AS request_parameters
FROM lines AS r
WHERE s IS NOT NULL;
