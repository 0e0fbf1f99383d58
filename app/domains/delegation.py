"""Is a domain delegated to its zone? Ask DNS for its NS records and compare.

The answer is one of three: delegated (the NS set is exactly the zone's), not delegated
(a definite answer: no such name, no NS records, other or missing name servers), or
unknown (timeout, SERVFAIL: the resolver could not say, so nothing should change).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.rdatatype
import dns.resolver


class Outcome(enum.StrEnum):
    DELEGATED = "delegated"
    NOT_DELEGATED = "not_delegated"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DelegationCheck:
    outcome: Outcome
    reason: str
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def normalize_ns(name: str) -> str:
    return name.strip().lower().rstrip(".")


def make_resolver(address: str = "", port: int = 53, timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver for ``address:port``, or the system's (``/etc/resolv.conf``) when empty."""
    resolver = dns.resolver.Resolver(configure=not address)
    if address:
        resolver.nameservers = [address]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def lookup_name_servers(resolver: dns.resolver.Resolver, domain: str) -> tuple[str, ...]:
    """The NS names of ``domain`` (sorted); raises dnspython's errors."""
    answer = resolver.resolve(domain, dns.rdatatype.NS, raise_on_no_answer=False)
    if answer.rrset is None:
        return ()
    return tuple(sorted({normalize_ns(record.target.to_text()) for record in answer.rrset}))


def check_delegation(
    resolver: dns.resolver.Resolver, domain: str, expected: Iterable[str]
) -> DelegationCheck:
    """Compare the NS records DNS returns for ``domain`` with the zone's name servers."""
    want = sorted({normalize_ns(ns) for ns in expected})
    try:
        found = lookup_name_servers(resolver, domain)
    except dns.resolver.NXDOMAIN:
        return DelegationCheck(
            Outcome.NOT_DELEGATED,
            f"{domain} does not exist in DNS (NXDOMAIN): set its NS records to {', '.join(want)}",
            missing=tuple(want),
        )
    except (dns.exception.DNSException, OSError) as error:  # timeout, SERVFAIL, no route
        return DelegationCheck(
            Outcome.UNKNOWN,
            f"the DNS lookup of {domain} failed ({type(error).__name__}): will check again",
        )
    if not found:
        return DelegationCheck(
            Outcome.NOT_DELEGATED,
            f"{domain} has no NS records: set them to {', '.join(want)}",
            missing=tuple(want),
        )
    missing = tuple(ns for ns in want if ns not in found)
    extra = tuple(ns for ns in found if ns not in want)
    if not missing and not extra:
        return DelegationCheck(
            Outcome.DELEGATED, f"{domain} is delegated to {', '.join(want)}", found=found
        )
    parts = []
    if missing:
        parts.append(f"missing name servers: {', '.join(missing)}")
    if extra:
        parts.append(f"extra name servers: {', '.join(extra)}")
    return DelegationCheck(
        Outcome.NOT_DELEGATED,
        f"{domain} is not delegated to its zone: {'; '.join(parts)}",
        found=found,
        missing=missing,
        extra=extra,
    )
