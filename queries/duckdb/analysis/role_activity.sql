-- Per role: calls, distinct task sessions, first and last call in the window, and the window
-- the store covers at all (first and last event of any principal).
-- $1, $2: the window [since, until), NULL for open ends.
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
ORDER BY principal
