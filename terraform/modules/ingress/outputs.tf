output "ingress_name" {
  description = "Name of the Ingress."
  value       = kubernetes_ingress_v1.this.metadata[0].name
}

output "certificate_name" {
  description = "Name of the cert-manager Certificate."
  value       = var.name
}

output "secret_name" {
  description = "TLS secret of the certificate (cert-manager keeps it after the Certificate is deleted)."
  value       = local.secret_name
}

output "hosts" {
  description = "Hosts the ingress serves."
  value       = var.hosts
}
