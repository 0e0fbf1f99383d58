"""The Kubernetes objects of one client (its Ingress and cert-manager Certificate) as data.

They are built here, in Python, and written as JSON into the client's workspace next to
``terraform.tfvars.json``; the ``ingress`` module applies exactly these objects
(``kubernetes_manifest`` of the decoded files). So what Terraform sends is a file the
tests validate against the Kubernetes schemas and cert-manager's CRD, not something
only Terraform's evaluation of HCL would reveal.

Names stay within Kubernetes' limits whatever the hosts: the Ingress, the Certificate
and the TLS secret are named after the account and the client (at most 14 + 1 + 63
characters, plus ``-tls``), never after a host, which may be up to 253 characters; the
names come from :mod:`app.names`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

INGRESS_FILE = "ingress.k8s.json"
CERTIFICATE_FILE = "certificate.k8s.json"
CERT_MANAGER_API_VERSION = "cert-manager.io/v1"
BASE_LABELS = {
    "app.kubernetes.io/managed-by": "terraform",
    "app.kubernetes.io/part-of": "chatdock",
}


def object_labels(account_number: str, client_name: str) -> dict[str, str]:
    """Labels of the Ingress, the Certificate and the certificate's secret.

    The delete job finds a deleted client's secret by these (cert-manager keeps it)."""
    return BASE_LABELS | {"chatdock/account": account_number, "chatdock/client": client_name}


def ingress_manifest(
    *,
    name: str,
    namespace: str,
    hosts: Sequence[str],
    ingress_class: str,
    service_name: str,
    service_port: int,
    secret_name: str,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A ``networking.k8s.io/v1`` Ingress: TLS for every host from one secret, every path
    of every host to one service.

    No ``cert-manager.io/cluster-issuer`` annotation: cert-manager's ingress-shim would
    then create a second Certificate, one that Terraform does not own."""
    backend = {"service": {"name": service_name, "port": {"number": service_port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "ingressClassName": ingress_class,
            "tls": [{"hosts": list(hosts), "secretName": secret_name}],
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
                for host in hosts
            ],
        },
    }


def certificate_manifest(
    *,
    name: str,
    namespace: str,
    hosts: Sequence[str],
    cluster_issuer: str,
    secret_name: str,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A cert-manager ``Certificate`` for the same hosts, signed by a ClusterIssuer.

    No ``commonName``: it is limited to 64 characters, hosts are not, and TLS clients
    read the subject alternative names (``dnsNames``) anyway."""
    return {
        "apiVersion": CERT_MANAGER_API_VERSION,
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "secretName": secret_name,
            "dnsNames": list(hosts),
            "issuerRef": {
                "group": "cert-manager.io",
                "kind": "ClusterIssuer",
                "name": cluster_issuer,
            },
            "secretTemplate": {"labels": dict(labels)},
        },
    }
