variable "ingress" {
  description = "The networking.k8s.io/v1 Ingress object, as the Kubernetes API takes it (decoded JSON)."
  type        = any

  validation {
    condition     = try(var.ingress.apiVersion == "networking.k8s.io/v1" && var.ingress.kind == "Ingress", false)
    error_message = "The ingress must be a networking.k8s.io/v1 Ingress."
  }
}

variable "certificate" {
  description = "The cert-manager.io/v1 Certificate object for the ingress's hosts (decoded JSON)."
  type        = any

  validation {
    condition     = try(var.certificate.apiVersion == "cert-manager.io/v1" && var.certificate.kind == "Certificate", false)
    error_message = "The certificate must be a cert-manager.io/v1 Certificate."
  }
}
