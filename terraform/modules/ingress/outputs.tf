output "ingress_name" {
  description = "Name of the Ingress (and of the Certificate)."
  value       = var.ingress.metadata.name
}

output "certificate_name" {
  description = "Name of the cert-manager Certificate."
  value       = var.certificate.metadata.name
}

output "secret_name" {
  description = "TLS secret of the certificate (cert-manager keeps it after the Certificate is deleted)."
  value       = var.certificate.spec.secretName
}

output "hosts" {
  description = "Hosts the ingress serves."
  value       = var.certificate.spec.dnsNames
}
