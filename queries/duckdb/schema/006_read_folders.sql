-- Schema version 6: the delivery date folders read whole. A folder of the delivery layout
-- (.../CloudTrail/REGION/YYYY/MM/DD/) whose every file is in ingested_files is recorded with
-- the fingerprint of its list of files (the folder's mtime and its files' names); while that
-- fingerprint is unchanged, an ingest counts its files as read without listing them one by one
-- (rightsizer/sources/locate.py, docs/ingest.md).

CREATE TABLE read_folders (
    folder         VARCHAR PRIMARY KEY,    -- as listed, without the trailing separator
    fingerprint    VARCHAR NOT NULL,       -- locate.folder_fingerprint
    files          BIGINT NOT NULL,
    delivery_date  DATE,
    recorded_at    TIMESTAMP NOT NULL,
    run_id         VARCHAR NOT NULL
);
