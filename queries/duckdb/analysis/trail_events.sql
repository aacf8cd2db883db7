-- Successful calls that changed what a trail records, in time order: their request parameters
-- are the trail's selectors (PutEventSelectors) or say when it stopped or started logging.
-- Up to $2 (the window's end, NULL for all): settings made before the window still hold in it.
SELECT strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') AS time, event_name,
       coalesce(request_parameters ->> '$.trailName', request_parameters ->> '$.name', '')
           AS trail,
       coalesce(request_parameters, '{}')::VARCHAR AS request
FROM events
WHERE event_source = 'cloudtrail.amazonaws.com'
  AND event_name IN ('CreateTrail', 'UpdateTrail', 'DeleteTrail', 'PutEventSelectors',
                     'StartLogging', 'StopLogging')
  AND error_code IS NULL
  AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
ORDER BY event_time, event_name
