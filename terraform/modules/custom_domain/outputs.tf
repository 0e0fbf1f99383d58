output "zone_id" {
  description = "Id of the hosted zone (input of the client_dns module's custom_records)."
  value       = aws_route53_zone.this.zone_id
}

output "name" {
  description = "The domain of the zone."
  value       = aws_route53_zone.this.name
}

output "name_servers" {
  description = "Name servers the account must delegate the domain to (NS records at its registrar or parent zone)."
  value       = aws_route53_zone.this.name_servers
}
