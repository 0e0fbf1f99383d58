variable "domain" {
  description = "The custom domain the account owns and delegates to us, e.g. api.example.com."
  type        = string

  validation {
    condition     = length(var.domain) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.domain))
    error_message = "The domain must be a lower-case DNS name of at least two labels, without a trailing dot."
  }
}

variable "comment" {
  description = "Comment of the hosted zone."
  type        = string
  default     = "Managed by chatdock"

  validation {
    condition     = length(var.comment) <= 256
    error_message = "The comment must be at most 256 characters (Route53's limit)."
  }
}

variable "tags" {
  description = "Tags of the hosted zone (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
