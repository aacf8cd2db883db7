# rightsizer as a scheduled ECS Fargate task: the same stack as
# deploy/cloudformation/scheduled-task.yaml. The task role's policy is rendered from
# deploy/iam/job-policy.json, the single source of truth (tests/test_deploy.py checks the three agree).

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition   = data.aws_partition.current.partition
  region      = data.aws_region.current.name
  account_id  = data.aws_caller_identity.current.account_id
  cluster_arn = var.cluster_arn != "" ? var.cluster_arn : aws_ecs_cluster.job[0].arn
  image       = "${local.account_id}.dkr.ecr.${local.region}.${data.aws_partition.current.dns_suffix}/${var.image_repository}:${var.image_tag}"

  # Each ${Placeholder} of deploy/iam/job-policy.json (CloudFormation Fn::Sub names) and its value.
  job_policy_values = {
    "AWS::Partition" = local.partition
    "AWS::Region"    = local.region
    "AWS::AccountId" = local.account_id
    AthenaWorkGroup  = var.athena_workgroup
    GlueDatabase     = var.glue_database
    GlueTable        = var.glue_table
    TrailBucket      = var.trail_bucket
    TrailPrefix      = var.trail_prefix
    TrailArn         = var.trail_arn
    TrailKmsKeyArn   = var.trail_kms_key_arn
    ResultsBucket    = var.results_bucket
    ResultsPrefix    = var.results_prefix
  }

  environment = {
    RIGHTSIZER_SOURCES_ATHENA         = "athena://${var.glue_database}.${var.glue_table}"
    RIGHTSIZER_SOURCES_IAM            = "aws"
    RIGHTSIZER_SOURCES_ECS            = "aws"
    RIGHTSIZER_ATHENA_WORKGROUP       = var.athena_workgroup
    RIGHTSIZER_ATHENA_OUTPUT_LOCATION = "s3://${var.results_bucket}/${var.results_prefix}"
    RIGHTSIZER_ATHENA_REGION          = local.region
    RIGHTSIZER_AWS_REGION             = local.region
    RIGHTSIZER_STORE_PATH             = "/data/rightsizer.duckdb"
    RIGHTSIZER_OUTPUT_FOLDER          = "/data/out"
    RIGHTSIZER_OUTPUT_DATED           = "true"
    RIGHTSIZER_LOGGING_FORMAT         = "json"
    RIGHTSIZER_WINDOW_DAYS            = tostring(var.window_days)
  }
}

# The job policy: deploy/iam/job-policy.json with every ${Name} replaced by
# local.job_policy_values[Name] (an unknown name, or a "$" that starts no placeholder, is an
# error), and the TrailKmsDecrypt statement dropped when the trail bucket has no KMS key. This
# block reads nothing but that map and the file.
locals {
  job_policy_parts = split("$", file("${path.module}/../iam/job-policy.json"))
  job_policy_document = jsondecode(join("", concat(
    [local.job_policy_parts[0]],
    [
      for match in [
        for part in slice(local.job_policy_parts, 1, length(local.job_policy_parts)) :
        regex("(?s)^[{]([A-Za-z:]+)[}](.*)$", part)
      ] : "${local.job_policy_values[match[0]]}${match[1]}"
    ],
  )))
  job_policy = merge(local.job_policy_document, {
    Statement = [
      for statement in local.job_policy_document.Statement : statement
      if statement.Sid != "TrailKmsDecrypt" || local.job_policy_values["TrailKmsKeyArn"] != ""
    ]
  })
}

resource "aws_ecs_cluster" "job" {
  count = var.cluster_arn == "" ? 1 : 0
  name  = var.family
  tags  = var.tags
}

resource "aws_cloudwatch_log_group" "job" {
  name              = "/ecs/${var.family}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# --- the store: EFS, reached through an access point as the image's user (uid/gid 10001) --------

resource "aws_security_group" "efs" {
  name_prefix = "${var.family}-efs-"
  description = "rightsizer EFS, NFS from the task only"
  vpc_id      = var.vpc_id
  tags        = var.tags
  # No egress rule: EFS never connects out.
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_task" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the rightsizer task"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.security_group_id
}

resource "aws_efs_file_system" "store" {
  encrypted        = true
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
  tags             = merge(var.tags, { Name = "${var.family}-store" })

  # The store holds the history the proposals are proven against: keep it.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_efs_backup_policy" "store" {
  file_system_id = aws_efs_file_system.store.id

  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "store" {
  for_each        = toset(var.subnet_ids)
  file_system_id  = aws_efs_file_system.store.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

resource "aws_efs_access_point" "store" {
  file_system_id = aws_efs_file_system.store.id
  tags           = var.tags

  posix_user {
    uid = 10001
    gid = 10001
  }

  root_directory {
    path = "/rightsizer"

    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

# --- roles ----------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "task" {
  name_prefix        = "${var.family}-task-"
  description        = "rightsizer job (task role); policy = deploy/iam/job-policy.json"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "rightsizer-job"
  role   = aws_iam_role.task.id
  policy = jsonencode(local.job_policy)
}

resource "aws_iam_role" "execution" {
  name_prefix        = "${var.family}-exec-"
  description        = "rightsizer job (execution role) - pull its image, write its logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "rightsizer-execution"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "EcrAuth"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid    = "EcrPull"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:GetDownloadUrlForLayer",
        ]
        Resource = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.image_repository}"
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.job.arn}:*"
      },
    ]
  })
}

resource "aws_iam_role" "events" {
  name_prefix = "${var.family}-events-"
  description = "rightsizer schedule - run the job's task definition and pass its two roles"
  tags        = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_iam_role_policy" "events" {
  name = "rightsizer-schedule"
  role = aws_iam_role.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "RunJob"
        Effect    = "Allow"
        Action    = "ecs:RunTask"
        Resource  = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${var.family}:*"
        Condition = { ArnEquals = { "ecs:cluster" = local.cluster_arn } }
      },
      {
        Sid       = "PassJobRoles"
        Effect    = "Allow"
        Action    = "iam:PassRole"
        Resource  = [aws_iam_role.task.arn, aws_iam_role.execution.arn]
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
    ]
  })
}

# --- the job --------------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "job" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  tags                     = var.tags

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "data"

    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.store.id
      transit_encryption = "ENABLED"

      authorization_config {
        access_point_id = aws_efs_access_point.store.id
        iam             = "DISABLED"
      }
    }
  }

  # Fargate ephemeral storage: the root file system is read-only, /tmp is this.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "rightsizer"
      image                  = local.image
      essential              = true
      readonlyRootFilesystem = true
      mountPoints = [
        { sourceVolume = "data", containerPath = "/data", readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      environment = [for name in sort(keys(local.environment)) : { name = name, value = local.environment[name] }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.job.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "rightsizer"
        }
      }
    },
  ])
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name_prefix         = "${var.family}-"
  description         = "Run rightsizer (${var.family}) on schedule"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "job" {
  rule     = aws_cloudwatch_event_rule.schedule.name
  arn      = local.cluster_arn
  role_arn = aws_iam_role.events.arn

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }

  ecs_target {
    task_definition_arn = aws_ecs_task_definition.job.arn
    task_count          = 1
    launch_type         = "FARGATE"
    platform_version    = "LATEST"

    network_configuration {
      subnets          = var.subnet_ids
      security_groups  = [var.security_group_id]
      assign_public_ip = false
    }
  }

  # The first run must find the file system mountable in every subnet.
  depends_on = [aws_efs_mount_target.store]
}
