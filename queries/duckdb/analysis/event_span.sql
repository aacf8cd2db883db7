-- The first and last event the store holds in the window, and how many: what was observed.
-- Athena brings only the calls of ECS roles (athena_usage, kind 'call'): they count as observed.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT min(first_event) AS first_event, max(last_event) AS last_event,
       coalesce(sum(events), 0)::BIGINT AS events
FROM (
    SELECT min(event_time) AS first_event, max(event_time) AS last_event, count(*) AS events
    FROM events
    WHERE ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
    UNION ALL
    SELECT min(first_seen), max(last_seen), sum(calls)
    FROM athena_usage
    WHERE kind = 'call'
      AND ($1::TIMESTAMP IS NULL OR last_seen >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR first_seen < $2::TIMESTAMP)
)
