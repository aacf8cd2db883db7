-- Move the pending events that the store does not hold yet into `events`, each eventID once
-- (CloudTrail delivers at least once); the first file read keeps it.
-- Repeated eventIDs are few, so only they are ranked: a window over every row costs a sort.
-- `held` and `staged_repeats` (held_event_ids.sql) hold the staged eventIDs the store already
-- has and those staged more than once.
INSERT INTO events BY NAME
WITH candidates AS NOT MATERIALIZED (  -- read again, not held in memory: 400,000 events
    SELECT * FROM pending WHERE is_event AND event_time IS NOT NULL
), repeated AS (
    SELECT event_id FROM staged_repeats
), fresh AS (
    SELECT * FROM candidates WHERE event_id NOT IN (SELECT event_id FROM repeated)
    UNION ALL
    SELECT * EXCLUDE (rank) FROM (
        SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY spool, s) AS rank
        FROM candidates
        WHERE event_id IN (SELECT event_id FROM repeated)
    )
    WHERE rank = 1
)
SELECT fresh.* EXCLUDE (spool, s, is_event)
FROM fresh
WHERE fresh.event_id NOT IN (SELECT event_id FROM held);
