output "read_role_arn" {
  value = aws_iam_role.read.arn
}
