-- Events staged in this transaction, not yet deduplicated into `events`, and the files they
-- came from. Deduplicating once per transaction, not once per spool, keeps the scans of
-- `events` few (see insert_new_events.sql). The columns follow `events`, plus where a row came
-- from (spool number, file index) and whether it is a CloudTrail event at all.
CREATE TEMP TABLE IF NOT EXISTS pending AS
SELECT NULL::INTEGER AS spool, NULL::INTEGER AS s, NULL::BOOLEAN AS is_event,
       * EXCLUDE (source)
FROM events
LIMIT 0;

-- Per file: the times its events can have (see the store's FileRef); others are bad records.
CREATE TEMP TABLE IF NOT EXISTS pending_files (spool INTEGER, s INTEGER, uri VARCHAR,
                                               earliest TIMESTAMP, latest TIMESTAMP);
