variable "name" {
  description = "Name of the Ingress and the Certificate (unique in the namespace), e.g. 3141-5926-5359-demo."
  type        = string

  validation {
    condition     = length(var.name) <= 200 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name))
    error_message = "The name must be lower-case a-z, 0-9 and inner hyphens, at most 200 characters (room for the secret's -tls suffix)."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the Ingress, the Certificate and its secret."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "The namespace must be a DNS label (RFC 1123)."
  }
}

variable "hosts" {
  description = "Hosts the ingress serves and the certificate covers: the default host first, then custom-domain hosts."
  type        = list(string)

  validation {
    condition     = length(var.hosts) > 0 && length(var.hosts) <= 100
    error_message = "Give between 1 and 100 hosts (a certificate holds at most 100 names)."
  }

  validation {
    condition     = alltrue([for h in var.hosts : length(h) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", h))])
    error_message = "Every host must be a lower-case DNS name (no wildcards)."
  }

  validation {
    condition     = length(distinct(var.hosts)) == length(var.hosts)
    error_message = "The hosts must be unique."
  }
}

variable "ingress_class" {
  description = "IngressClass that serves the ingress, e.g. nginx."
  type        = string

  validation {
    condition     = length(var.ingress_class) <= 253 && can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.ingress_class))
    error_message = "The ingress_class must be a DNS subdomain (RFC 1123)."
  }
}

variable "cluster_issuer" {
  description = "cert-manager ClusterIssuer that signs the certificate, e.g. letsencrypt."
  type        = string

  validation {
    condition     = length(var.cluster_issuer) <= 253 && can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.cluster_issuer))
    error_message = "The cluster_issuer must be a DNS subdomain (RFC 1123)."
  }
}

variable "service_name" {
  description = "Service the ingress routes every path of every host to."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.service_name))
    error_message = "The service_name must be a DNS label starting with a letter (RFC 1035)."
  }
}

variable "service_port" {
  description = "Port number of that service."
  type        = number

  validation {
    condition     = var.service_port >= 1 && var.service_port <= 65535 && floor(var.service_port) == var.service_port
    error_message = "The service_port must be a whole number between 1 and 65535."
  }
}

variable "secret_name" {
  description = "Secret cert-manager writes the certificate to and the ingress serves TLS from; null = \"<name>-tls\"."
  type        = string
  default     = null

  validation {
    condition     = var.secret_name == null || can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", var.secret_name))
    error_message = "The secret_name must be a DNS subdomain (RFC 1123)."
  }
}

variable "labels" {
  description = "Extra labels of the Ingress, the Certificate and the certificate's secret."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.labels) : can(regex("^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$", v))])
    error_message = "Label values must be at most 63 characters of alphanumerics, -, _ and . (starting and ending alphanumeric)."
  }
}
