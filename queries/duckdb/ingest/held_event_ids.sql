-- The eventIDs staged in this transaction that the store already holds, and whether any
-- eventID may repeat (held, or staged twice). The one scan of `events` a transaction needs:
-- record_conflicts.sql and insert_new_events.sql read `held` instead of scanning it again,
-- and a transaction where nothing repeats skips the conflict check. (On the simulated daily
-- run something always repeated: CloudTrail delivers at least once, and the simulator too.)
CREATE OR REPLACE TEMP TABLE held AS
SELECT DISTINCT event_id FROM events
WHERE event_id IN (SELECT event_id FROM pending WHERE is_event AND event_time IS NOT NULL);

SELECT EXISTS (SELECT 1 FROM held)
    OR EXISTS (SELECT event_id FROM pending WHERE is_event AND event_time IS NOT NULL
               GROUP BY event_id HAVING count(*) > 1) AS may_repeat;
