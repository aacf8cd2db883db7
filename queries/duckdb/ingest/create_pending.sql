-- What this transaction stages, not yet deduplicated into `events`: the typed spools (Parquet
-- files the readers wrote: rightsizer/store/staging.py) by their number in the transaction,
-- the files of each, and the files whose events are not to be stored after all (the store read
-- another count of them than the reader wrote: they are read again carefully). The staged
-- events are the view `pending` (stage_spool.sql), read where the readers wrote them and never
-- copied into the store's memory. Deduplicating once per transaction, not once per spool,
-- keeps the scans of `events` few (see insert_new_events.sql).
CREATE TEMP TABLE IF NOT EXISTS pending_spools (spool INTEGER, typed VARCHAR);

-- Per file: the times its events can have (see the store's FileRef); others are bad records.
CREATE TEMP TABLE IF NOT EXISTS pending_files (spool INTEGER, s INTEGER, uri VARCHAR,
                                               earliest TIMESTAMP, latest TIMESTAMP);

CREATE TEMP TABLE IF NOT EXISTS pending_dropped (spool INTEGER, s INTEGER);

-- Until a spool is staged, no event is. The columns follow `events`, plus where a row came
-- from (spool number, file index) and whether it is a CloudTrail event at all.
CREATE OR REPLACE TEMP VIEW pending AS
SELECT NULL::INTEGER AS spool, NULL::INTEGER AS s, NULL::BOOLEAN AS is_event, *
FROM events
LIMIT 0;
