"""Custom domains: name rules, delegation checks, the serving rule and which claim holds
a name (the development DNS server is ``devtools.dev_dns``)."""
