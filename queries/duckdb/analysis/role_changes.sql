-- Changes to IAM roles and to the managed policies they may have attached, in the window:
-- the successful IAM management calls a change audit reads, who made them and from where,
-- with their request (roleName, policyName, policyArn, policyDocument, ...). IAM is global and
-- logs in us-east-1; the role a call changed is matched in Python (analysis/role_changes.py).
-- $1, $2: the window [since, until), NULL for open ends.
SELECT
    event_time,
    event_name,
    coalesce(identity_arn, principal, '')  AS actor,
    coalesce(identity_type, '')            AS actor_type,
    coalesce(session_name, '')             AS session_name,
    coalesce(source_ip, '')                AS source_ip,
    coalesce(user_agent, '')               AS user_agent,
    coalesce(request_parameters, '{}')::VARCHAR AS request,
    event_id
FROM events
WHERE event_source = 'iam.amazonaws.com'
  AND error_code IS NULL
  AND event_name IN (
      'CreateRole', 'DeleteRole', 'PutRolePolicy', 'DeleteRolePolicy', 'AttachRolePolicy',
      'DetachRolePolicy', 'UpdateAssumeRolePolicy', 'PutRolePermissionsBoundary',
      'DeleteRolePermissionsBoundary', 'CreatePolicyVersion', 'SetDefaultPolicyVersion',
      'DeletePolicyVersion')
  AND ($1::TIMESTAMP IS NULL OR event_time >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR event_time < $2::TIMESTAMP)
ORDER BY event_time, event_id
