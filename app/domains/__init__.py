"""Custom domains: name rules and delegation checks (the development DNS server is
``devtools.dev_dns``)."""
