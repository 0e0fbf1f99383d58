"""The Kubernetes objects of one client, as data: its ``HTTPRoute`` (``ROUTING_API=
gateway``) or its ``Ingress`` (``ROUTING_API=ingress``). Nothing else: the certificates
and listeners that serve the client belong to its account (:mod:`app.infra.routing_objects`,
applied by the account's routing workspace), so a client's run never changes anything
another client relies on.

They are built here, in Python, and written as JSON into the client's workspace next to
``terraform.tfvars.json``; the ``kubernetes_objects`` module applies exactly these objects
(``kubernetes_manifest`` of the decoded files). So what Terraform sends is a file the
tests validate against the Kubernetes schemas and the pinned Gateway API CRDs, not
something only Terraform's evaluation of HCL would reveal.

Names stay within Kubernetes' limits whatever the hosts: the route is named after the
account and the client (at most 14 + 1 + 63 characters), never after a host, which may
be up to 253 characters (:mod:`app.names`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.infra.routing_objects import (
    ACCOUNT_LISTENER,
    BASE_LABELS,
    GATEWAY_API_GROUP,
    GATEWAY_API_VERSION,
    account_certificate_name,
    domain_certificate_name,
    domain_listener,
    listener_set_name,
    secret_of,
)

ROUTE_FILE = "route.k8s.json"  # the HTTPRoute, or the Ingress


def object_labels(account_number: str, client_name: str) -> dict[str, str]:
    """Labels of the client's route."""
    return BASE_LABELS | {"chatdock/account": account_number, "chatdock/client": client_name}


def custom_domain_of(host: str) -> str:
    """``demo.shop.example`` -> ``shop.example``: a custom host is the client's name in
    its account's custom domain."""
    return host.split(".", 1)[1]


def httproute_manifest(
    *,
    name: str,
    namespace: str,
    account_number: str,
    hosts: Sequence[str],
    service_name: str,
    service_port: int,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A ``gateway.networking.k8s.io/v1`` HTTPRoute for exactly ``hosts`` (the default
    host first), attached to the listeners of the account's ListenerSet that cover them,
    every path to one service."""
    listeners = [ACCOUNT_LISTENER, *(domain_listener(custom_domain_of(h)) for h in hosts[1:])]
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "parentRefs": [
                {
                    "group": GATEWAY_API_GROUP,
                    "kind": "ListenerSet",
                    "name": listener_set_name(account_number),
                    "sectionName": listener,
                }
                for listener in listeners
            ],
            "hostnames": list(hosts),
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"group": "", "kind": "Service", "name": service_name, "port": service_port}
                    ],
                }
            ],
        },
    }


def ingress_manifest(
    *,
    name: str,
    namespace: str,
    account_number: str,
    hosts: Sequence[str],
    ingress_class: str,
    service_name: str,
    service_port: int,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A ``networking.k8s.io/v1`` Ingress: the default host with the account's wildcard
    secret, each custom host with its domain's, every path to one service.

    No ``cert-manager.io/cluster-issuer`` annotation: cert-manager's ingress-shim would
    then create a Certificate per client, the very thing the wildcards avoid."""
    backend = {"service": {"name": service_name, "port": {"number": service_port}}}
    secrets = [secret_of(account_certificate_name(account_number))] + [
        secret_of(domain_certificate_name(account_number, custom_domain_of(h))) for h in hosts[1:]
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "ingressClassName": ingress_class,
            "tls": [
                {"hosts": [host], "secretName": secret}
                for host, secret in zip(hosts, secrets, strict=True)
            ],
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
                for host in hosts
            ],
        },
    }
