# The providers baked into the image's mirror (TF_PLUGIN_DIR): `terraform providers
# mirror` reads this file at build time. Exact versions, inside the ranges the modules
# and rendered workspaces ask for (aws ~> 5.0, kubernetes ~> 2.30).
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "2.38.0"
    }
  }
}
