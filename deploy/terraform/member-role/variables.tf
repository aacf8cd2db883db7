variable "job_role_arn" {
  description = "The task role of the rightsizer job, the only principal that may assume this role."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.job_role_arn))
    error_message = "job_role_arn must be an IAM role ARN."
  }
}

variable "organization_id" {
  description = "The organization (o-...); the job's session must come from it."
  type        = string
  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must look like o-abc123defg."
  }
}

variable "role_name" {
  description = "The name the job assumes in each account (--assume-role)."
  type        = string
  default     = "rightsizer-read"
}
