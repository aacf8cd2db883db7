-- Schema version 1: CloudTrail events, the ledger of files read, and bad inputs.
-- event_time is UTC (the connection's TimeZone is UTC). responseElements is not stored: analysis
-- does not need it, and for AssumeRole and GetSessionToken it holds session credentials.

CREATE TABLE events (
    event_id              VARCHAR NOT NULL,   -- CloudTrail eventID, or 'rs-' || md5 of content
    event_time            TIMESTAMP NOT NULL,
    event_source          VARCHAR,
    event_name            VARCHAR,
    aws_region            VARCHAR,
    account               VARCHAR,            -- recipientAccountId, else userIdentity.accountId
    principal             VARCHAR,            -- sessionIssuer.arn for roles; identity ARN; service
    identity_type         VARCHAR,
    identity_arn          VARCHAR,            -- userIdentity.arn as logged (sts form for roles)
    principal_id          VARCHAR,
    session_name          VARCHAR,
    access_key_id         VARCHAR,
    invoked_by            VARCHAR,
    source_ip             VARCHAR,
    user_agent            VARCHAR,
    error_code            VARCHAR,
    error_message         VARCHAR,
    read_only             BOOLEAN,
    event_category        VARCHAR,
    management_event      BOOLEAN,
    event_type            VARCHAR,
    event_version         VARCHAR,
    request_id            VARCHAR,
    shared_event_id       VARCHAR,
    vpc_endpoint_id       VARCHAR,
    resources             STRUCT("ARN" VARCHAR, "type" VARCHAR, "accountId" VARCHAR)[],  -- as logged
    request_parameters    JSON,
    source                VARCHAR NOT NULL    -- the file or s3:// object it was read from
);

-- A file or object read cleanly, by its fingerprint (size and mtime, or ETag).
CREATE TABLE ingested_files (
    uri          VARCHAR NOT NULL,
    fingerprint  VARCHAR NOT NULL,
    size         BIGINT NOT NULL,
    records      BIGINT NOT NULL,
    ingested_at  TIMESTAMP NOT NULL,
    run_id       VARCHAR NOT NULL,
    PRIMARY KEY (uri, fingerprint)
);

-- Every input that could not be read whole, each time it was met.
CREATE TABLE bad_inputs (
    uri          VARCHAR NOT NULL,
    fingerprint  VARCHAR,
    reason       VARCHAR NOT NULL,
    seen_at      TIMESTAMP NOT NULL,
    run_id       VARCHAR NOT NULL
);

CREATE TABLE ingest_runs (
    run_id       VARCHAR PRIMARY KEY,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    sources      VARCHAR[] NOT NULL,
    summary      JSON
);
