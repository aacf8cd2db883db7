-- Move the pending events that the store does not hold yet into `events`, each eventID once
-- (CloudTrail delivers at least once, DOMAIN.md section 3); the first file read keeps it.
INSERT INTO events BY NAME
SELECT fresh.* EXCLUDE (spool, s, is_event, first_seen), f.uri AS source
FROM (
    SELECT
        *,
        row_number() OVER (PARTITION BY event_id ORDER BY spool, s) = 1 AS first_seen
    FROM pending
    WHERE is_event AND event_time IS NOT NULL
) AS fresh
JOIN pending_files AS f USING (spool, s)
WHERE first_seen
  AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = fresh.event_id);
