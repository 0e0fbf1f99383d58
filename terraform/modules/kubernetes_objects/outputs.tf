output "objects" {
  description = "Kind/name of every object, by file name."
  value       = { for key, o in var.objects : key => "${o.kind}/${o.metadata.name}" }
}

output "hostnames" {
  description = "The hosts the objects serve: an HTTPRoute's hostnames, an Ingress's rule hosts, a Certificate's dnsNames."
  value = sort(distinct(flatten([
    for o in values(var.objects) : concat(
      try(o.spec.hostnames, []),
      try([for r in o.spec.rules : r.host], []),
      try(o.spec.dnsNames, []),
    )
  ])))
}
