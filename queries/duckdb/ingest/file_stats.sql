-- Per file index of one staged spool: events read, and the ones that cannot be stored and why.
-- Parameters: $spool_no.
SELECT
    s,
    count(*) AS records,
    count(*) FILTER (WHERE NOT is_event) AS not_events,
    count(*) FILTER (WHERE is_event AND event_time IS NULL) AS no_time
FROM pending
WHERE spool = $spool_no
GROUP BY s
ORDER BY s;
