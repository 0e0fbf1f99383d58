# The client's Ingress (TLS for all its hosts, every path to one service) and the
# cert-manager Certificate that fills the Ingress's TLS secret.

locals {
  secret_name = coalesce(var.secret_name, "${var.name}-tls")
  labels = merge({
    "app.kubernetes.io/managed-by" = "terraform"
    "app.kubernetes.io/part-of"    = "chatdock"
  }, var.labels)
}

resource "kubernetes_ingress_v1" "this" {
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    ingress_class_name = var.ingress_class

    tls {
      hosts       = var.hosts
      secret_name = local.secret_name
    }

    dynamic "rule" {
      for_each = var.hosts
      content {
        host = rule.value

        http {
          path {
            path      = "/"
            path_type = "Prefix"

            backend {
              service {
                name = var.service_name

                port {
                  number = var.service_port
                }
              }
            }
          }
        }
      }
    }
  }
}

# Declared explicitly (not via the ingress-shim annotation) so Terraform owns its
# lifecycle. cert-manager keeps the secret after the Certificate is deleted; the
# secretTemplate labels let the delete job find and remove it.
resource "kubernetes_manifest" "certificate" {
  manifest = {
    apiVersion = "cert-manager.io/v1"
    kind       = "Certificate"
    metadata = {
      name      = var.name
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      secretName = local.secret_name
      dnsNames   = var.hosts
      issuerRef = {
        group = "cert-manager.io"
        kind  = "ClusterIssuer"
        name  = var.cluster_issuer
      }
      secretTemplate = {
        labels = local.labels
      }
    }
  }
}
