-- Per file index of the staged spool: records, and the ones that cannot be stored and why.
SELECT
    s,
    count(*) FILTER (WHERE is_record) AS records,
    count(*) FILTER (WHERE is_record AND NOT is_event) AS not_events,
    count(*) FILTER (WHERE is_record AND is_event AND event_time IS NULL) AS no_time
FROM staged
GROUP BY s
ORDER BY s;
