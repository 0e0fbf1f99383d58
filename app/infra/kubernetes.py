"""The few Kubernetes calls made outside Terraform (with the official client)."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from app.infra.client_objects import CERT_MANAGER_API_VERSION
from app.logging_setup import get_logger

log = get_logger("chatdock.kubernetes")
# Seconds one API call may take: a worker must not hang on an unreachable cluster.
API_TIMEOUT_SECONDS = 10


class CertificateState(enum.StrEnum):
    """What cert-manager says of a Certificate."""

    READY = "ready"  # condition Ready is True: the secret holds a valid certificate
    PENDING = "pending"  # not (yet) Ready: being issued, or not created yet
    FAILED = "failed"  # Ready is False and the last issuance failed (see the message)


def _api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (``KUBECONFIG``,
    read now: the client library reads it once, at import)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    return client.ApiClient()


def delete_secret(namespace: str, name: str) -> bool:
    """Delete cert-manager's certificate secret; False when it was already gone.

    cert-manager leaves the secret behind when its Certificate is deleted, so a deleted
    client's TLS key would otherwise stay in the cluster.
    """
    try:
        client.CoreV1Api(_api_client()).delete_namespaced_secret(
            name=name, namespace=namespace, _request_timeout=API_TIMEOUT_SECONDS
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def certificate_state(namespace: str, name: str) -> tuple[CertificateState, str]:
    """The readiness of a client's Certificate, and cert-manager's message about it.

    An apply that created the Certificate says nothing about the certificate itself:
    cert-manager issues it afterwards (an ACME order can take minutes, or fail). A missing
    Certificate is pending (the apply may still be under way); API errors other than 404
    propagate, so the caller decides what an unreachable cluster means.
    """
    group, version = CERT_MANAGER_API_VERSION.split("/")
    try:
        certificate = client.CustomObjectsApi(_api_client()).get_namespaced_custom_object(
            group=group,
            version=version,
            namespace=namespace,
            plural="certificates",
            name=name,
            _request_timeout=API_TIMEOUT_SECONDS,
        )
    except ApiException as error:
        if error.status == 404:
            return CertificateState.PENDING, "the Certificate does not exist (yet)"
        raise
    # The custom objects API answers with the object's JSON, as a dict.
    return readiness(cast(Mapping[str, Any], certificate))


def readiness(certificate: Mapping[str, Any]) -> tuple[CertificateState, str]:
    """Read a Certificate's status conditions as cert-manager writes them."""
    conditions = {
        c.get("type"): c for c in (certificate.get("status") or {}).get("conditions") or []
    }
    ready = conditions.get("Ready") or {}
    message = str(ready.get("message") or "")
    if ready.get("status") == "True":
        return CertificateState.READY, message
    # cert-manager sets Issuing=False with reason Failed when an issuance attempt failed
    # (it retries later with backoff); Ready stays False meanwhile.
    issuing = conditions.get("Issuing") or {}
    if ready.get("status") == "False" and issuing.get("reason") == "Failed":
        return CertificateState.FAILED, str(issuing.get("message") or message)
    return CertificateState.PENDING, message or "no Ready condition yet"
