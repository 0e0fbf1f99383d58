# The client's Ingress and the cert-manager Certificate that fills its TLS secret,
# applied exactly as chatdock built them (app/infra/client_objects.py): the objects are
# JSON files of the workspace, decoded by the root module and passed in here.

resource "kubernetes_manifest" "ingress" {
  manifest = var.ingress
}

# cert-manager keeps the secret after the Certificate is deleted; the secretTemplate
# labels let the delete job find and remove it.
resource "kubernetes_manifest" "certificate" {
  manifest = var.certificate
}
