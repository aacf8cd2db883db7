-- Roles the ECS service was seen assuming for tasks: sts AssumeRole made by
-- the AWSService identity invokedBy ecs-tasks.amazonaws.com, successful, one row per role.
-- The role ARN is the one in the request (it keeps the role's path); roleSessionName is the task ID.
-- Athena sends the same per day (athena_usage, kind 'ecs_assume'; sessions: the largest day's).
-- regions and days: where and on which days (UTC) ECS assumed it, sorted.
-- $1, $2: the observation window [since, until), NULL for open ends.
SELECT role_arn, sum(assumptions)::BIGINT AS assumptions, max(sessions) AS sessions,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen,
       list_sort(list_distinct(flatten(list(regions)))) AS regions,
       list_sort(list_distinct(flatten(list(days)))) AS days
FROM (
    SELECT
        request_parameters ->> '$.roleArn'                       AS role_arn,
        count(*)                                                 AS assumptions,
        count(DISTINCT request_parameters ->> '$.roleSessionName') AS sessions,
        min(event_time)                                          AS first_seen,
        max(event_time)                                          AS last_seen,
        list(DISTINCT coalesce(aws_region, ''))                  AS regions,
        list(DISTINCT CAST(event_time AS DATE))                  AS days
    FROM events
    WHERE event_source = 'sts.amazonaws.com'
      AND event_name = 'AssumeRole'
      AND invoked_by = 'ecs-tasks.amazonaws.com'
      AND error_code IS NULL
      AND request_parameters ->> '$.roleArn' IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
    GROUP BY role_arn
    UNION ALL
    SELECT principal, sum(calls), max(sessions), min(first_seen), max(last_seen),
           list(DISTINCT region), list(DISTINCT day)
    FROM athena_usage
    WHERE kind = 'ecs_assume'
      AND ($1::TIMESTAMP IS NULL OR last_seen >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR first_seen < $2::TIMESTAMP)
    GROUP BY principal
)
GROUP BY role_arn
ORDER BY role_arn
