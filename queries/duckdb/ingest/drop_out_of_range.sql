-- The events of one staged spool whose time lies outside their file's bounds are not stored
-- (file_stats.sql counts them). Parameters: $spool_no.
DELETE FROM pending AS p
USING pending_files AS f
WHERE p.spool = $spool_no AND f.spool = p.spool AND f.s = p.s
  AND (p.event_time < f.earliest OR p.event_time > f.latest);
