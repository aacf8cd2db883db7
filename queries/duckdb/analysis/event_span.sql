-- The first and last event the store holds in the window, and how many: what was observed.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT min(event_time) AS first_event, max(event_time) AS last_event, count(*) AS events
FROM events
WHERE ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
