# The same parameters as deploy/cloudformation/scheduled-task.yaml, in snake_case.

variable "image_repository" {
  description = "ECR repository holding the rightsizer image, in this account and Region. The execution role may pull from this repository only."
  type        = string

  validation {
    condition     = can(regex("^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.image_repository))
    error_message = "image_repository must be an ECR repository name."
  }
}

variable "image_tag" {
  description = "Image tag to run."
  type        = string
  default     = "latest"
}

variable "family" {
  description = "Task definition family (also names the log group /ecs/FAMILY)."
  type        = string
  default     = "rightsizer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.family))
    error_message = "family: letters, digits, _ and - only."
  }
}

variable "schedule_expression" {
  description = "EventBridge schedule, in UTC. Default daily at 03:00."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "window_days" {
  description = "Observation window in days (RIGHTSIZER_WINDOW_DAYS)."
  type        = number
  default     = 90
}

variable "cluster_arn" {
  description = "ARN of an existing ECS cluster to run in; empty creates one."
  type        = string
  default     = ""
}

variable "vpc_id" {
  description = "VPC of the subnets (for the EFS security group)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the task runs in (no public IP: they need a NAT gateway or VPC endpoints); each gets an EFS mount target, so give one per Availability Zone."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids: at least one subnet."
  }
}

variable "security_group_id" {
  description = "Security group of the task: it needs egress to TCP 443 (AWS APIs) and TCP 2049 (EFS)."
  type        = string
}

variable "trail_bucket" {
  description = "S3 bucket the CloudTrail trail delivers to (read only)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.trail_bucket))
    error_message = "trail_bucket must be an S3 bucket name."
  }
}

variable "trail_prefix" {
  description = "Key prefix of the trail in trail_bucket, before AWSLogs/ (empty, or ending in /)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([^*?/][^*?]*/)?$", var.trail_prefix))
    error_message = "trail_prefix must be empty or end with /."
  }
}

variable "trail_arn" {
  description = "ARN of the trail whose event selectors the job reads (for an organization trail, the ARN in the management account)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/[A-Za-z0-9._-]+$", var.trail_arn))
    error_message = "trail_arn must be a CloudTrail trail ARN."
  }
}

variable "trail_kms_key_arn" {
  description = "KMS key ARN of an SSE-KMS encrypted trail bucket; empty when it is not."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.trail_kms_key_arn))
    error_message = "trail_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "glue_database" {
  description = "Glue database of the CloudTrail table."
  type        = string
  default     = "cloudtrail"
}

variable "glue_table" {
  description = "Glue table over the trail (see `rightsizer athena setup`)."
  type        = string
  default     = "cloudtrail_logs"
}

variable "athena_workgroup" {
  description = "The one Athena workgroup the job may use."
  type        = string
  default     = "rightsizer"
}

variable "results_bucket" {
  description = "S3 bucket of the Athena query results (the workgroup's output location)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket))
    error_message = "results_bucket must be an S3 bucket name."
  }
}

variable "results_prefix" {
  description = "Key prefix of the Athena results in results_bucket (empty, or ending in /)."
  type        = string
  default     = "rightsizer/"

  validation {
    condition     = can(regex("^([^*?/][^*?]*/)?$", var.results_prefix))
    error_message = "results_prefix must be empty or end with /."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Fargate task memory in MiB (must fit the CPU size)."
  type        = number
  default     = 4096
}

variable "ephemeral_storage_gib" {
  description = "Fargate ephemeral storage in GiB (backs /tmp)."
  type        = number
  default     = 40

  validation {
    condition     = var.ephemeral_storage_gib >= 21 && var.ephemeral_storage_gib <= 200
    error_message = "ephemeral_storage_gib: 21 to 200."
  }
}

variable "cpu_architecture" {
  description = "Architecture the image was built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture: X86_64 or ARM64."
  }
}

variable "log_retention_days" {
  description = "Retention of the job's log group, in days."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
