variable "objects" {
  description = "The objects, as the Kubernetes API takes them (decoded JSON), by file name without .k8s.json."
  type        = any

  validation {
    condition = alltrue([
      for o in values(var.objects) : try(contains([
        "gateway.networking.k8s.io/v1/HTTPRoute",
        "gateway.networking.k8s.io/v1/ListenerSet",
        "networking.k8s.io/v1/Ingress",
        "cert-manager.io/v1/Certificate",
      ], "${o.apiVersion}/${o.kind}"), false)
    ])
    error_message = "Every object must be an HTTPRoute or ListenerSet (gateway.networking.k8s.io/v1), an Ingress (networking.k8s.io/v1) or a Certificate (cert-manager.io/v1)."
  }

  validation {
    condition     = alltrue([for o in values(var.objects) : try(length(o.metadata.name) > 0 && length(o.metadata.namespace) > 0, false)])
    error_message = "Every object needs metadata.name and metadata.namespace."
  }
}
