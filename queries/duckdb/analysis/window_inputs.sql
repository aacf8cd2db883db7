-- What an analysis of the window reads from the store, whichever runs stored it: the files its
-- events came from, and how many ingest runs stored those files. An incremental run adds
-- nothing new, yet analyzes everything already stored: its report says both.
-- $1, $2: the window [since, until), NULL for open ends.
WITH used AS (
    SELECT DISTINCT source
    FROM events
    WHERE ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
)
SELECT
    (SELECT count(*) FROM used)                                         AS files,
    (SELECT count(DISTINCT f.run_id)
       FROM ingested_files AS f JOIN used AS u ON f.uri = u.source)     AS ingest_runs
