output "cluster_arn" {
  value = local.cluster_arn
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.job.arn
}

output "task_role_arn" {
  description = "The job's role; its policy is deploy/iam/job-policy.json."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "events_role_arn" {
  value = aws_iam_role.events.arn
}

output "schedule_rule_arn" {
  value = aws_cloudwatch_event_rule.schedule.arn
}

output "file_system_id" {
  value = aws_efs_file_system.store.id
}

output "access_point_id" {
  value = aws_efs_access_point.store.id
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.job.name
}

output "job_policy_json" {
  description = "The task role's policy as sent to IAM."
  value       = jsonencode(local.job_policy)
}
