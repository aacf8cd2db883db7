-- Schema version 3: eventIDs delivered with different contents. CloudTrail delivers at least
-- once, and a repeat is the same record again; the same eventID with another time, call,
-- principal or request is something else (a forged or damaged record, or two trails mixed).
-- The store keeps the first it read (insert_new_events.sql) and records each other one here,
-- so that the ingest summary counts them and anyone can look.

CREATE TABLE event_id_conflicts (
    event_id        VARCHAR NOT NULL,
    kept_source     VARCHAR NOT NULL,   -- the file of the record the store keeps
    other_source    VARCHAR NOT NULL,   -- the file of the record not stored
    other_time      TIMESTAMP,
    other_source_host VARCHAR,          -- eventSource of the record not stored
    other_name      VARCHAR,            -- eventName of the record not stored
    other_principal VARCHAR,
    seen_at         TIMESTAMP NOT NULL,
    run_id          VARCHAR NOT NULL
);
