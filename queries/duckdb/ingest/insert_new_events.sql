-- Insert the staged events that the store does not hold yet, each eventID once (CloudTrail
-- delivers at least once, DOMAIN.md section 3). Parameters: none; reads temp tables `staged`
-- and `chunk_files` (s -> uri).
INSERT INTO events BY NAME
SELECT fresh.* EXCLUDE (s, is_record, is_event, first_seen), f.uri AS source
FROM (
    SELECT
        *,
        row_number() OVER (PARTITION BY event_id ORDER BY s) = 1 AS first_seen
    FROM staged
    WHERE is_record AND is_event AND event_time IS NOT NULL
) AS fresh
JOIN chunk_files AS f USING (s)
WHERE first_seen
  AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = fresh.event_id);
