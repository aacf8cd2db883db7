-- A call's class by its errorCode, the one definition usage.sql and call_sessions.sql share:
-- ok (no error) | denied (an authorization failure: evidence of a missing permission, not of
-- use) | error (failed after authorization, e.g. not found or throttled). The store creates it
-- on every connection (store/database.py). queries/athena/usage.sql has its Trino twin, which
-- tests/sources/test_athena_sql.py holds to the same rows.
CREATE OR REPLACE TEMP MACRO error_class(code) AS
    CASE
        WHEN code IS NULL THEN 'ok'
        WHEN code ILIKE '%AccessDenied%' OR code ILIKE '%Unauthorized%'
          OR code IN ('AuthorizationError', 'AuthorizationErrorException',
                      'Forbidden', 'ForbiddenException') THEN 'denied'
        ELSE 'error'
    END;
