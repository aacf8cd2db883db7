# rightsizer's read-only role in one member account (apply it per account, with a provider per
# account, or use ../../cloudformation/member-stackset.yaml for the whole organization). The
# policy is deploy/iam/member-policy.json, its ${AWS::Partition} and ${AWS::AccountId} filled
# from the account the provider is in.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  member_policy = replace(replace(file("${path.module}/../../iam/member-policy.json"),
    "$${AWS::Partition}", data.aws_partition.current.partition),
  "$${AWS::AccountId}", data.aws_caller_identity.current.account_id)
}

resource "aws_iam_role" "read" {
  name                 = var.role_name
  description          = "rightsizer (read only) - IAM, ECS task definitions, CloudTrail settings"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "RightsizerJob"
      Effect    = "Allow"
      Principal = { AWS = var.job_role_arn }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

resource "aws_iam_role_policy" "read" {
  name   = "rightsizer-read"
  role   = aws_iam_role.read.id
  policy = local.member_policy
}
