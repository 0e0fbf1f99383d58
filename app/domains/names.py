"""What an account may add as a custom domain, normalized the one way we store it.

Names go through IDNA (UTS #46: upper case folded, internationalized names to their
``xn--`` form), then the rules a hosted zone needs: two or more LDH labels, not an IP
address, not a special-use name, not a public suffix (``co.uk``, ``github.io``: a name
under which unrelated parties register theirs, from the Public Suffix List that
``publicsuffixlist`` bundles, read offline), and not overlapping a platform domain (a
zone for a parent of ours, or inside ours, would let an account capture platform hosts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache

import idna
from publicsuffixlist import PublicSuffixList

from app.errors import InvalidInput
from app.names import is_dns_label

# RFC 6761 / 6762 names that never have a public zone.
SPECIAL_USE = ("localhost", "invalid", "local", "arpa", "onion")


def normalize_domain(raw: str) -> str:
    """The stored form of ``raw`` (ASCII, lower case, no trailing dot) or InvalidInput."""
    text = (raw or "").strip().rstrip(".")
    if not text:
        raise InvalidInput("a domain is required, e.g. api.example.com")
    if _is_ip_address(text):
        raise InvalidInput(f"{raw!r} is an IP address; a custom domain is a DNS name")
    try:
        domain = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as error:
        raise InvalidInput(f"{raw!r} is not a valid domain name: {error}") from None
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidInput(f"{raw!r} is a single label; use a full domain such as example.com")
    if len(domain) > 253:
        raise InvalidInput(f"{raw!r} is longer than 253 characters")
    bad = [label for label in labels if not is_dns_label(label)]
    if bad:
        raise InvalidInput(
            f"{raw!r} is not a valid domain name: label {bad[0]!r} may only have letters, "
            "digits and inner hyphens (1 to 63 characters)"
        )
    if labels[-1].isdigit():
        raise InvalidInput(f"{raw!r} has a numeric top-level label")
    if labels[-1] in SPECIAL_USE:
        raise InvalidInput(f"{raw!r} is a special-use name (.{labels[-1]}) with no public DNS")
    return domain


def overlaps(domain: str, other: str) -> bool:
    """The same name, or one inside the other."""
    return domain == other or domain.endswith(f".{other}") or other.endswith(f".{domain}")


def check_not_reserved(domain: str, reserved: Iterable[str]) -> None:
    """Refuse the platform's own domains, their subdomains and their parents."""
    for name in reserved:
        name = name.strip().lower().rstrip(".")
        if name and overlaps(domain, name):
            raise InvalidInput(
                f"{domain} overlaps the platform's domain {name}: it cannot be a custom domain"
            )


@cache
def _public_suffixes() -> PublicSuffixList:
    """The bundled list (ICANN and private sections), parsed once per process."""
    return PublicSuffixList()


def check_not_public_suffix(domain: str) -> None:
    """Refuse a public suffix: claiming one would block every name registered under it."""
    if _public_suffixes().is_public(domain):
        raise InvalidInput(
            f"{domain} is a public suffix (Public Suffix List): names under it belong to "
            f"different owners; add your own domain, e.g. yourname.{domain}"
        )


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def default_host(client_name: str, account_number: str, customer_api_domain: str) -> str:
    """A client's own host, ``{name}.{account_number}.{CUSTOMER_API_DOMAIN}``."""
    return f"{client_name}.{account_number}.{customer_api_domain}".lower()
