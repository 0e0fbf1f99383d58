# Kubernetes objects applied exactly as chatdock built them (app/infra/client_objects.py,
# app/infra/routing_objects.py): each is a *.k8s.json file of the workspace, decoded by
# the root module and passed in here, keyed by its file name.

resource "kubernetes_manifest" "this" {
  for_each = toset(keys(var.objects))

  manifest = var.objects[each.key]
}
