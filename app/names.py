"""The name rules of chatdock, written once: client names, account numbers, DNS labels and
names, hosts, and the Kubernetes names derived from an account and a client.

Every rule is matched with ``re.fullmatch`` on ASCII classes (``[0-9]``, never ``\\d``, and
``re.ASCII``): ``^...$`` with ``re.match`` lets a trailing newline through (``"demo\\n"``
would be a client that can be created but never deployed), and ``\\d`` takes any
script's digits. The Terraform modules' validations (RE2, where ``$`` is the end of the
text) say the same; ``tests/test_names.py`` runs both on the same names.

This module imports nothing from the app: models, services, infra and blueprints all
read their rules from here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DNS_LABEL_RE = re.compile(DNS_LABEL, re.ASCII)
# Two or more labels, no trailing dot: a zone, a custom domain, a client's host.
DNS_NAME_RE = re.compile(rf"(?:{DNS_LABEL}\.)+{DNS_LABEL}", re.ASCII)
CLIENT_NAME_RE = DNS_LABEL_RE
ACCOUNT_NUMBER_RE = re.compile(r"[0-9]{4}-[0-9]{4}-[0-9]{4}", re.ASCII)
# Kubernetes: a Service name is an RFC 1035 label (a letter first); object names such as
# an Ingress, a Certificate, a Secret or an IngressClass are RFC 1123 subdomains.
K8S_DNS1035_LABEL_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
K8S_SUBDOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", re.ASCII)
# Unicode control (newline, tab, ESC), format (e.g. bidi overrides), surrogate, private-use
# and unassigned characters, and line/paragraph separators: none belongs in a one-line
# text a person reads (an account name, a key's label), where a terminal would run them.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_dns_label(value: object) -> bool:
    """One lower-case LDH label of 1 to 63 characters, no hyphen at either end."""
    return isinstance(value, str) and DNS_LABEL_RE.fullmatch(value) is not None


def is_client_name(value: object) -> bool:
    """A client's name: a DNS label (its default host and workspace derive from it)."""
    return isinstance(value, str) and CLIENT_NAME_RE.fullmatch(value) is not None


def is_account_number(value: object) -> bool:
    """``####-####-####`` in ASCII digits."""
    return isinstance(value, str) and ACCOUNT_NUMBER_RE.fullmatch(value) is not None


def is_dns_name(value: object) -> bool:
    """Two or more DNS labels, at most 253 characters, lower case, no trailing dot."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_NAME_LENGTH
        and DNS_NAME_RE.fullmatch(value) is not None
    )


def is_host_name(value: object) -> bool:
    """An IP address or a lower-case DNS name of one or more labels: what a browser puts
    in an Origin (``localhost`` included)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    return len(value) <= MAX_NAME_LENGTH and all(is_dns_label(p) for p in value.split("."))


def is_kubernetes_service_name(value: object) -> bool:
    """An RFC 1035 label, what Kubernetes requires of a Service (and an Ingress backend)."""
    return isinstance(value, str) and K8S_DNS1035_LABEL_RE.fullmatch(value) is not None


def is_kubernetes_subdomain(value: object) -> bool:
    """An RFC 1123 subdomain (Ingress, Certificate, Secret, IngressClass, issuer names)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_NAME_LENGTH
        and K8S_SUBDOMAIN_RE.fullmatch(value) is not None
    )


def kubernetes_object_name(account_number: str, client_name: str) -> str:
    """Name of a client's HTTPRoute or Ingress: unique in the shared namespace, and at
    most 14 + 1 + 63 characters whatever the client's hosts."""
    return f"{account_number}-{client_name}"


def tls_secret_name(account_number: str, client_name: str) -> str:
    """The Secret of the per-client Certificate chatdock made before the account
    wildcards (the delete job removes it if it is still there)."""
    return f"{kubernetes_object_name(account_number, client_name)}-tls"


def is_ascii_digits(value: object) -> bool:
    """One or more of 0-9 (``str.isdigit`` also takes ``"١٢"``, which ``int`` reads as 12)."""
    return isinstance(value, str) and value.isascii() and value.isdigit()


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character of ``CONTROL_CATEGORIES``."""
    return any(unicodedata.category(ch) in CONTROL_CATEGORIES for ch in text)


def escape_control_characters(text: str) -> str:
    """``text`` with each character of ``CONTROL_CATEGORIES`` written as its escape
    (``\\n``, ``\\x1b``, ``\\u202e``): what a terminal shows, never what it runs."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in CONTROL_CATEGORIES
        else ch
        for ch in text
    )
