-- ECS failing to assume a task's role: sts AssumeRole made by the
-- AWSService identity invokedBy ecs-tasks.amazonaws.com that failed, one row per role, region,
-- account and error code. The role ARN is the one in the request. A trust policy that does not
-- let ECS in shows here before any task of the role makes a call.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT
    request_parameters ->> '$.roleArn'   AS role_arn,
    coalesce(aws_region, '')             AS region,
    coalesce(account, '')                AS account,
    error_code,
    count(*)                             AS failures,
    min(event_time)                      AS first_seen,
    max(event_time)                      AS last_seen
FROM events
WHERE event_source = 'sts.amazonaws.com'
  AND event_name = 'AssumeRole'
  AND invoked_by = 'ecs-tasks.amazonaws.com'
  AND error_code IS NOT NULL
  AND request_parameters ->> '$.roleArn' IS NOT NULL
  AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
GROUP BY ALL
ORDER BY role_arn, region, account, error_code
