# The client's A records: its default host in the customer API domain's zone, plus
# one record per custom-domain host, all pointing at the same ingress.

data "aws_route53_zone" "default" {
  count = var.zone_id == "" ? 1 : 0

  name         = var.zone_name
  private_zone = false

  lifecycle {
    precondition {
      condition     = var.zone_name != ""
      error_message = "Set zone_id, or zone_name to look the hosted zone up by name."
    }
  }
}

locals {
  zone_id = var.zone_id != "" ? var.zone_id : one(data.aws_route53_zone.default[*].zone_id)

  # Exactly one of records+ttl (mode a) or alias (mode alias) is set on every record.
  ttl     = var.mode == "a" ? var.ttl : null
  records = var.mode == "a" ? var.ips : null
  aliases = var.mode == "alias" ? [{ name = var.alias_dns_name, zone_id = var.alias_zone_id }] : []

  custom_records = { for r in var.custom_records : r.name => r.zone_id }
  target_ok      = var.mode == "a" ? length(var.ips) > 0 : var.alias_dns_name != "" && var.alias_zone_id != ""
  target_error   = "Mode a needs at least one address in ips; mode alias needs alias_dns_name and alias_zone_id."
}

resource "aws_route53_record" "default" {
  zone_id         = local.zone_id
  name            = var.host
  type            = "A"
  ttl             = local.ttl
  records         = local.records
  allow_overwrite = var.allow_overwrite

  dynamic "alias" {
    for_each = local.aliases
    content {
      name                   = alias.value.name
      zone_id                = alias.value.zone_id
      evaluate_target_health = var.evaluate_target_health
    }
  }

  lifecycle {
    precondition {
      condition     = local.target_ok
      error_message = local.target_error
    }

    precondition {
      condition     = var.zone_name == "" || endswith(var.host, ".${var.zone_name}")
      error_message = "The host must lie inside zone_name."
    }
  }
}

resource "aws_route53_record" "custom" {
  for_each = local.custom_records

  zone_id         = each.value
  name            = each.key
  type            = "A"
  ttl             = local.ttl
  records         = local.records
  allow_overwrite = var.allow_overwrite

  dynamic "alias" {
    for_each = local.aliases
    content {
      name                   = alias.value.name
      zone_id                = alias.value.zone_id
      evaluate_target_health = var.evaluate_target_health
    }
  }

  lifecycle {
    precondition {
      condition     = local.target_ok
      error_message = local.target_error
    }

    precondition {
      condition     = each.key != var.host
      error_message = "A custom record must not repeat the default host."
    }
  }
}
