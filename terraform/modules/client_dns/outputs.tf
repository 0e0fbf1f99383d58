output "zone_id" {
  description = "Hosted zone of the default host's record."
  value       = local.zone_id
}

output "default_fqdn" {
  description = "The client's default host."
  value       = aws_route53_record.default.fqdn
}

output "fqdns" {
  description = "Every host this module points at the ingress: the default host first, then the custom-domain hosts sorted."
  value       = concat([aws_route53_record.default.fqdn], [for name in sort(keys(aws_route53_record.custom)) : aws_route53_record.custom[name].fqdn])
}
