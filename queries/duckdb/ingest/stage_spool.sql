-- `pending`: the events of this transaction's typed spools (pending_spools) that can be
-- stored, with their spool's number and the file each came from (`source`): those of files
-- read as written (not in pending_dropped) and dated within their file's bounds
-- (pending_files.earliest / latest; file_stats.sql counts the others as bad records: year 1 or
-- 9999 would stretch the window over millennia).
-- {typed_files} is the list of the spools' paths as SQL string literals: a table function's
-- arguments cannot be parameters of a view.
CREATE OR REPLACE TEMP VIEW pending AS
SELECT sp.spool, t.* EXCLUDE (filename), f.uri AS source
FROM read_parquet({typed_files}, filename = true) AS t
JOIN pending_spools AS sp ON sp.typed = t.filename
JOIN pending_files AS f ON f.spool = sp.spool AND f.s = t.s
WHERE NOT EXISTS (SELECT 1 FROM pending_dropped AS d WHERE d.spool = sp.spool AND d.s = t.s)
  AND NOT coalesce(t.event_time < f.earliest OR t.event_time > f.latest, false);
