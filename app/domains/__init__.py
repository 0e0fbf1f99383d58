"""Custom domains: name rules, delegation checks, and a DNS server for development."""
