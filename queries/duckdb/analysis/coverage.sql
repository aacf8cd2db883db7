-- What the logs read cover: one row per account x region x day with events in the window, the
-- hours of that day (UTC, 0-23) that had any, and how many events. Every event counts, whoever
-- made it: a region's deliveries are the evidence that its calls would have been seen.
-- Athena sends aggregates of ECS roles only, so an Athena query covers what it read instead:
-- every day of its window for its account, in every region of the table (region '*'), hours
-- unknown (NULL).
-- $1, $2: the window [since, until), NULL for open ends.
SELECT account, region, day, list_sort(list(hour)) AS hours, sum(events)::BIGINT AS events
FROM (
    SELECT coalesce(account, '') AS account, coalesce(aws_region, '') AS region,
           CAST(event_time AS DATE) AS day, hour(event_time) AS hour, count(*) AS events
    FROM events
    WHERE ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
    GROUP BY ALL
)
GROUP BY ALL
UNION ALL
SELECT DISTINCT account, '*' AS region, CAST(d.day AS DATE) AS day, NULL AS hours,
       0::BIGINT AS events
FROM athena_queries,
     LATERAL (SELECT unnest(generate_series(since, until - INTERVAL 1 DAY, INTERVAL 1 DAY))
              AS day) AS d
WHERE ($1::TIMESTAMP IS NULL OR d.day >= date_trunc('day', $1::TIMESTAMP))
  AND ($2::TIMESTAMP IS NULL OR d.day < $2::TIMESTAMP)
ORDER BY account, region, day
