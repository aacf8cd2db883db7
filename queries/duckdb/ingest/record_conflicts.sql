-- Record the pending events whose eventID the store holds, or holds first in this transaction,
-- with other contents (schema/003_event_id_conflicts.sql); run after held_event_ids.sql (which
-- fills `held` and `staged_repeats`, the staged eventIDs the store holds, with their rows, and
-- those staged more than once) and before insert_new_events.sql.
-- Contents: what the analysis reads of an event. Repeats CloudTrail delivers are equal in all
-- of it. Parameters: $run_id, $now.
-- Only eventIDs met twice (in this transaction, or here and in the store) can conflict: the
-- contents are hashed for those alone, not for every pending row.
INSERT INTO event_id_conflicts
WITH twice AS (
    SELECT event_id FROM staged_repeats
    UNION
    SELECT event_id FROM held
), candidates AS (
    SELECT p.*,
        md5(concat_ws(chr(31), p.event_time::VARCHAR, p.event_source, p.event_name,
                      p.aws_region, p.account, p.principal, p.identity_arn, p.session_name,
                      p.error_code, p.invoked_by, p.request_parameters::VARCHAR,
                      p.resources::VARCHAR)) AS content
    FROM pending AS p
    WHERE p.is_event AND p.event_time IS NOT NULL
      AND p.event_id IN (SELECT event_id FROM twice)
), repeated AS (
    SELECT event_id FROM candidates GROUP BY event_id HAVING count(DISTINCT content) > 1
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY spool, s) AS rank
    FROM candidates
    WHERE event_id IN (SELECT event_id FROM repeated)
), stored AS (
    SELECT e.event_id, e.source,
        md5(concat_ws(chr(31), e.event_time::VARCHAR, e.event_source, e.event_name,
                      e.aws_region, e.account, e.principal, e.identity_arn, e.session_name,
                      e.error_code, e.invoked_by, e.request_parameters::VARCHAR,
                      e.resources::VARCHAR)) AS content
    FROM events AS e
    WHERE e.rowid IN (SELECT stored_row FROM held
                      WHERE event_id IN (SELECT event_id FROM candidates))
), kept AS (  -- the record the store keeps: the stored one, else this transaction's first
    SELECT event_id, source, content FROM stored
    UNION ALL
    SELECT event_id, source, content FROM ranked
    WHERE rank = 1 AND event_id NOT IN (SELECT event_id FROM stored)
)
SELECT c.event_id, k.source, c.source, c.event_time, c.event_source, c.event_name,
       c.principal, $now, $run_id
FROM candidates AS c
JOIN kept AS k ON k.event_id = c.event_id AND k.content <> c.content;
