"""The Kubernetes objects an account's clients share, as data: the wildcard certificates
and the listeners that serve them.

Let's Encrypt issues 50 new certificates per registered domain and week. One certificate
per client would cap onboarding on one base domain at about 50 clients a week; one
wildcard ``*.{account}.{domain}`` per account (and ``*.{custom domain}`` per verified
custom domain) needs a new certificate per account instead, and none per client. A
wildcard needs DNS-01, which cert-manager answers in the Route53 zones chatdock manages
(``CERT_ISSUER``: ``deploy/cluster/cluster-issuer.yaml``).

With ``ROUTING_API=gateway`` the account gets one ``ListenerSet`` attached to the
platform's Gateway: a listener per wildcard, each terminating TLS with its certificate's
secret; the clients' HTTPRoutes attach to these listeners (``client_objects``). A
ListenerSet per account, rather than listeners on the Gateway itself, because a Gateway
holds at most 64 listeners, and because the account's objects then change in the
account's own workspace, never in a shared one. A ListenerSet holds at most 64 listeners
too: an account has at most 63 verified custom domains (``MAX_DOMAINS``).

Names depend only on the account number and a digest of the domain, never on a host's
length: a custom domain may be 251 characters, an object name at most 253.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

CERT_MANAGER_API_VERSION = "cert-manager.io/v1"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_API_GROUP}/v1"
BASE_LABELS = {
    "app.kubernetes.io/managed-by": "terraform",
    "app.kubernetes.io/part-of": "chatdock",
}
ACCOUNT_LISTENER = "account"  # the listener of *.{account}.{domain}
MAX_DOMAINS = 63  # the account listener plus these fill a ListenerSet's 64


def account_labels(account_number: str) -> dict[str, str]:
    return BASE_LABELS | {"chatdock/account": account_number}


def domain_digest(domain: str) -> str:
    """A short, stable stand-in for a domain in names (a domain may be 251 characters)."""
    return hashlib.sha256(domain.encode()).hexdigest()[:16]


def listener_set_name(account_number: str) -> str:
    return f"{account_number}-listeners"


def domain_listener(domain: str) -> str:
    """The listener (section) of a custom domain in the account's ListenerSet."""
    return f"domain-{domain_digest(domain)}"


def account_certificate_name(account_number: str) -> str:
    return f"{account_number}-wildcard"


def domain_certificate_name(account_number: str, domain: str) -> str:
    return f"{account_number}-{domain_listener(domain)}"


def secret_of(certificate_name: str) -> str:
    """The Secret cert-manager fills for a Certificate of ours."""
    return f"{certificate_name}-tls"


def wildcard(name: str) -> str:
    return f"*.{name}"


def covering_certificates(account_number: str, hosts: Sequence[str]) -> list[str]:
    """The Certificates serving ``hosts`` of a client: the account's wildcard for the
    default host (the first), the custom domain's for each custom host."""
    names = [account_certificate_name(account_number)]
    for host in hosts[1:]:
        names.append(domain_certificate_name(account_number, host.split(".", 1)[1]))
    return names


def certificate_manifest(
    *,
    name: str,
    namespace: str,
    dns_names: Sequence[str],
    cluster_issuer: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A cert-manager ``Certificate`` signed by a ClusterIssuer, into ``secret_of(name)``.

    No ``commonName``: it is limited to 64 characters, names are not, and TLS clients
    read the subject alternative names (``dnsNames``) anyway. The secret carries the
    labels so that whoever cleans up finds what cert-manager leaves behind."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": CERT_MANAGER_API_VERSION,
        "kind": "Certificate",
        "metadata": metadata,
        "spec": {
            "secretName": secret_of(name),
            "dnsNames": list(dns_names),
            "issuerRef": {
                "group": "cert-manager.io",
                "kind": "ClusterIssuer",
                "name": cluster_issuer,
            },
            "secretTemplate": {"labels": dict(labels)},
        },
    }


def listener_set_manifest(
    *,
    name: str,
    namespace: str,
    gateway_name: str,
    gateway_namespace: str,
    port: int,
    listeners: Sequence[tuple[str, str, str]],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A Gateway API ``ListenerSet`` on the platform's Gateway: one HTTPS listener per
    (listener name, hostname, secret), routes of this namespace only."""
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "ListenerSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "parentRef": {
                "group": GATEWAY_API_GROUP,
                "kind": "Gateway",
                "name": gateway_name,
                "namespace": gateway_namespace,
            },
            "listeners": [
                {
                    "name": listener,
                    "hostname": hostname,
                    "port": port,
                    "protocol": "HTTPS",
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"group": "", "kind": "Secret", "name": secret}],
                    },
                    "allowedRoutes": {
                        "namespaces": {"from": "Same"},
                        "kinds": [{"group": GATEWAY_API_GROUP, "kind": "HTTPRoute"}],
                    },
                }
                for listener, hostname, secret in listeners
            ],
        },
    }
