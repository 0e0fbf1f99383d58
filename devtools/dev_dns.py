"""A small authoritative DNS server for development and tests (dnslib, UDP and TCP).

It answers NS queries for the delegations listed in a JSON file
(``{"example.com": ["ns-1.awsdns-01.com", ...]}``), re-read when the file changes, so a
developer (``flask dev-dns delegate``) or a test can set and remove a delegation while
the server runs, as a customer would at their registrar. Any other name is NXDOMAIN;
other record types of a delegated name get an empty answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from dnslib import NS, QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from app.domains.delegation import normalize_ns

TTL = 60


class DelegationFile:
    """The delegations, kept in a JSON file so other processes can change them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._delegations: dict[str, list[str]] = {}

    def read(self) -> dict[str, list[str]]:
        """The current delegations (re-read only when the file changed)."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._delegations = None, {}
                return {}
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._delegations = json.loads(self.path.read_text() or "{}")
                self._stamp = stamp
            return self._delegations

    def set(self, domain: str, name_servers: list[str]) -> None:
        """Delegate ``domain`` to ``name_servers`` (an empty list removes it)."""
        current = dict(self.read())
        domain = normalize_ns(domain)
        if name_servers:
            current[domain] = sorted({normalize_ns(ns) for ns in name_servers})
        else:
            current.pop(domain, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)


class DelegationResolver(BaseResolver):
    def __init__(self, delegations: DelegationFile) -> None:
        self.delegations = delegations

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname)
        name_servers = self.delegations.read().get(normalize_ns(qname))
        if name_servers is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.NS, QTYPE.ANY):
            for ns in name_servers:
                reply.add_answer(RR(qname, QTYPE.NS, rdata=NS(ns + "."), ttl=TTL))
        return reply


@contextlib.contextmanager
def dev_dns_server(
    delegation_file: str | Path, address: str = "127.0.0.1", port: int = 0
) -> Iterator[int]:
    """Serve the delegations on UDP (and TCP) ``address:port`` in threads; yields the port."""
    resolver = DelegationResolver(DelegationFile(delegation_file))
    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    for attempt in range(5):  # a free UDP port's TCP twin may be taken: try another
        udp = DNSServer(resolver, address=address, port=port, logger=quiet)
        chosen = udp.server.server_address[1]
        try:
            tcp = DNSServer(resolver, address=address, port=chosen, logger=quiet, tcp=True)
        except OSError:
            udp.server.server_close()
            if port or attempt == 4:
                raise
            continue
        port = chosen
        break
    udp.start_thread()
    tcp.start_thread()
    try:
        yield port
    finally:
        udp.stop()
        tcp.stop()
        udp.server.server_close()
        tcp.server.server_close()
