variable "host" {
  description = "Fully qualified default host of the client, e.g. demo.3141-5926-5359.api.example.com."
  type        = string

  validation {
    condition     = length(var.host) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.host))
    error_message = "The host must be a lower-case DNS name: dot-separated labels of a-z, 0-9 and inner hyphens, at most 63 characters each."
  }
}

variable "zone_id" {
  description = "Id of the existing hosted zone of the customer API domain; empty = look it up by zone_name."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Z0-9]{0,32}$", var.zone_id))
    error_message = "The zone_id must be a bare Route53 hosted zone id (upper-case letters and digits, no /hostedzone/ prefix)."
  }
}

variable "zone_name" {
  description = "Name of the hosted zone (the customer API domain). Used to find the zone when zone_id is empty, and to check that host lies inside it."
  type        = string
  default     = ""

  validation {
    condition     = var.zone_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.zone_name))
    error_message = "The zone_name must be a lower-case DNS name without a trailing dot."
  }
}

variable "mode" {
  description = "a: plain A records to ips with ttl. alias: an alias A record to the ingress load balancer."
  type        = string
  default     = "a"

  validation {
    condition     = contains(["a", "alias"], var.mode)
    error_message = "The mode must be \"a\" or \"alias\"."
  }
}

variable "ips" {
  description = "IPv4 addresses of the ingress (mode a)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for ip in var.ips : can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$", ip))])
    error_message = "Every entry of ips must be an IPv4 address in dotted-decimal form (A records hold IPv4 only)."
  }

  validation {
    condition     = length(distinct(var.ips)) == length(var.ips)
    error_message = "The ips must not repeat an address."
  }
}

variable "ttl" {
  description = "TTL in seconds of the records (mode a; alias records take the target's TTL)."
  type        = number
  default     = 300

  validation {
    condition     = var.ttl >= 0 && var.ttl <= 2147483647 && floor(var.ttl) == var.ttl
    error_message = "The ttl must be a whole number of seconds between 0 and 2147483647."
  }
}

variable "alias_dns_name" {
  description = "DNS name of the ingress load balancer (mode alias)."
  type        = string
  default     = ""

  validation {
    condition     = var.alias_dns_name == "" || can(regex("^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.?$", var.alias_dns_name))
    error_message = "The alias_dns_name must be a DNS name."
  }
}

variable "alias_zone_id" {
  description = "Canonical hosted zone id of the ingress load balancer (mode alias)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Z0-9]{0,32}$", var.alias_zone_id))
    error_message = "The alias_zone_id must be a bare hosted zone id (upper-case letters and digits)."
  }
}

variable "evaluate_target_health" {
  description = "Whether Route53 checks the load balancer's health before answering (mode alias)."
  type        = bool
  default     = false
}

variable "custom_records" {
  description = "Extra hosts of the client in custom-domain zones: same target as the default host."
  type = list(object({
    zone_id = string
    name    = string
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.custom_records : length(r.name) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", r.name))])
    error_message = "Every custom record name must be a lower-case DNS name."
  }

  validation {
    condition     = alltrue([for r in var.custom_records : can(regex("^[A-Z0-9]{1,32}$", r.zone_id))])
    error_message = "Every custom record needs a bare hosted zone id (upper-case letters and digits)."
  }

  validation {
    condition     = length(distinct([for r in var.custom_records : r.name])) == length(var.custom_records)
    error_message = "Custom record names must be unique."
  }
}

variable "allow_overwrite" {
  description = "Take over records that already exist with the same name. On: the names are the workspace's own (a client host in our zone, or in the account's own zone), and an apply stopped after Route53 made a record but before the state recorded it (a killed worker, a lost lock) must converge on the next apply instead of failing with 'already exists'."
  type        = bool
  default     = true
}
