-- Per role and call: in how many distinct task sessions (roleSessionName = ECS task ID) it was
-- made successfully or past authorization. Not summable from usage.sql's daily rows. Its keys
-- are every call IAM authorized (usage.sql's rows not denied), which the report's failure
-- explanations read too (pipeline/analyze.py).
-- Athena sends distinct sessions per day (athena_usage.sessions): for those rows the count is the
-- largest day's, a lower bound of the window's.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT principal, event_source, event_name, max(sessions) AS sessions
FROM (
    SELECT principal, event_source, event_name, count(DISTINCT session_name) AS sessions
    FROM events
    WHERE identity_type = 'AssumedRole'
      AND principal IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
      AND error_class(error_code) <> 'denied'  -- error_class.sql, as usage.sql
    GROUP BY ALL
    UNION ALL
    SELECT principal, event_source, event_name, max(sessions)
    FROM athena_usage
    WHERE kind = 'call' AND error_class <> 'denied'
      AND ($1::TIMESTAMP IS NULL OR last_seen >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR first_seen < $2::TIMESTAMP)
    GROUP BY ALL
)
GROUP BY ALL
ORDER BY ALL
