-- Data events the logs hold, by resource type, scope and read/write class: what the trails must
-- have been recording (rightsizer/analysis/trail_inference.py). The scope of an S3 object is
-- its bucket (arn:aws:s3:::BUCKET/), of anything else its ARN.
-- $1, $2: the window [since, until), NULL for open ends.
SELECT r."type" AS resource_type,
       CASE WHEN r."type" = 'AWS::S3::Object'
            THEN regexp_extract(r."ARN", '^(arn:[^:]+:s3:::[^/]+/)', 1)
            ELSE r."ARN" END AS scope,
       coalesce(read_only, false) AS read_only,
       count(*)::BIGINT AS events
FROM (
    SELECT unnest(resources) AS r, read_only
    FROM events
    WHERE event_category = 'Data'
      AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
)
WHERE r."type" IS NOT NULL AND r."ARN" IS NOT NULL
GROUP BY ALL
HAVING scope IS NOT NULL AND scope <> ''
ORDER BY resource_type, scope, read_only
