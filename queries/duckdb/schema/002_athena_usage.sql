-- Schema version 2: usage aggregated in Athena (queries/athena/usage.sql) and the queries that
-- brought it. Athena sends aggregates, not events: these rows stand beside `events`, and the
-- analysis queries read both (a store is fed by local/S3 files, by Athena, or by both for
-- different accounts).

CREATE TABLE athena_usage (
    source          VARCHAR NOT NULL,   -- athena://DATABASE.TABLE
    kind            VARCHAR NOT NULL,   -- call | ecs_assume
    principal       VARCHAR NOT NULL,
    event_source    VARCHAR NOT NULL,
    event_name      VARCHAR NOT NULL,
    region          VARCHAR NOT NULL,
    account         VARCHAR NOT NULL,   -- recipientAccountId, as usage.sql
    query_account   VARCHAR NOT NULL,   -- the account partition the query read
    request_key     VARCHAR NOT NULL,
    resource_arns   VARCHAR[] NOT NULL,
    day             DATE NOT NULL,
    error_class     VARCHAR NOT NULL,
    invoked_by      VARCHAR NOT NULL,
    calls           BIGINT NOT NULL,
    sessions        BIGINT NOT NULL,    -- distinct task sessions that day
    first_seen      TIMESTAMP NOT NULL,
    last_seen       TIMESTAMP NOT NULL,
    error_code      VARCHAR,
    query_id        VARCHAR NOT NULL
);

-- Every usage query run: the window it covered, what it scanned and cost. A day of an account
-- is settled once a query covering it ran two days after it (all its deliveries were in).
CREATE TABLE athena_queries (
    query_id         VARCHAR PRIMARY KEY,
    source           VARCHAR NOT NULL,
    account          VARCHAR NOT NULL,
    since            TIMESTAMP NOT NULL,
    until            TIMESTAMP NOT NULL,
    first_partition  VARCHAR NOT NULL,
    last_partition   VARCHAR NOT NULL,
    bytes_scanned    BIGINT NOT NULL,
    cost_usd         DOUBLE NOT NULL,
    rows             BIGINT NOT NULL,
    seconds          DOUBLE NOT NULL,
    ran_at           TIMESTAMP NOT NULL,
    run_id           VARCHAR NOT NULL
);
