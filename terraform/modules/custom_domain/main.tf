# A public hosted zone for an account's custom domain. The account delegates the domain
# to its name servers; client workspaces then add their records to it.

resource "aws_route53_zone" "this" {
  name    = var.domain
  comment = var.comment
  tags    = var.tags

  # Client workspaces add records to this zone; deleting the domain deletes them too
  # instead of failing on a non-empty zone.
  force_destroy = true
}
