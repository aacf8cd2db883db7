-- Per role: calls, distinct task sessions, first and last call in the window. Athena rows
-- (athena_usage) count their calls; their sessions are the largest day's (a lower bound).
-- $1, $2: the window [since, until), NULL for open ends.
SELECT
    principal,
    sum(calls)::BIGINT AS calls,
    max(sessions)      AS sessions,
    min(first_seen)    AS first_seen,
    max(last_seen)     AS last_seen
FROM (
    SELECT
        principal,
        count(*)                     AS calls,
        count(DISTINCT session_name) AS sessions,
        min(event_time)              AS first_seen,
        max(event_time)              AS last_seen
    FROM events
    WHERE identity_type = 'AssumedRole'
      AND principal IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
    GROUP BY principal
    UNION ALL
    SELECT principal, sum(calls), max(sessions), min(first_seen), max(last_seen)
    FROM athena_usage
    WHERE kind = 'call'
      AND ($1::TIMESTAMP IS NULL OR last_seen >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR first_seen < $2::TIMESTAMP)
    GROUP BY principal
)
GROUP BY principal
ORDER BY principal
