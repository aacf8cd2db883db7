-- The eventIDs of this transaction that may repeat: `staged_repeats`, those staged more than
-- once, and `held`, those the store already holds; and whether there is any. The one pass
-- over the staged eventIDs: insert_new_events.sql reads these tables instead of `events`, and
-- a transaction where nothing repeats skips the conflict check, which reads the stored
-- contents of the held rows (record_conflicts.sql). (On the simulated daily run
-- something always repeated: CloudTrail delivers at least once, and the simulator too.)
CREATE OR REPLACE TEMP TABLE staged_ids AS
SELECT event_id FROM pending WHERE is_event AND event_time IS NOT NULL;

CREATE OR REPLACE TEMP TABLE staged_repeats AS
SELECT event_id FROM staged_ids GROUP BY event_id HAVING count(*) > 1;

-- With each stored event's rowid: the conflict check reads the stored contents of these rows
-- alone, where a filter on eventID reads every stored event's contents (at 10M events, 28 s of
-- a 240 s ingest went to that).
CREATE OR REPLACE TEMP TABLE held AS
SELECT event_id, rowid AS stored_row FROM events
WHERE event_id IN (SELECT event_id FROM staged_ids);

DROP TABLE staged_ids;

SELECT EXISTS (SELECT 1 FROM held) OR EXISTS (SELECT 1 FROM staged_repeats) AS may_repeat;
