-- Per file index of one typed spool: events read, and the ones that cannot be stored and why.
-- An event time outside the file's bounds (pending_files.earliest / latest) is a bad record:
-- year 1 or 9999 would stretch the window over millennia. Parameters: $typed (the spool's
-- path), $spool_no (its number in the transaction).
SELECT
    p.s,
    count(*) AS records,
    count(*) FILTER (WHERE NOT p.is_event) AS not_events,
    count(*) FILTER (WHERE p.is_event AND p.event_time IS NULL) AS no_time,
    count(*) FILTER (WHERE p.is_event AND (p.event_time < f.earliest OR p.event_time > f.latest))
        AS out_of_range
FROM read_parquet($typed) AS p
LEFT JOIN pending_files AS f ON f.spool = $spool_no AND f.s = p.s
GROUP BY p.s
ORDER BY p.s;
