"""The few Kubernetes calls made outside Terraform (with the official client)."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from app.infra.routing_objects import CERT_MANAGER_API_VERSION
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


def get_certificate(namespace: str, name: str) -> Mapping[str, Any] | None:
    """A Certificate as the API server has it; None when it does not exist (yet).

    API errors other than 404 propagate, so the caller decides what an unreachable
    cluster means."""
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
            return None
        raise
    # The custom objects API answers with the object's JSON, as a dict.
    return cast(Mapping[str, Any], certificate)


def readiness(
    certificate: Mapping[str, Any] | None, now: datetime, margin: timedelta
) -> tuple[CertificateState, str]:
    """Read a Certificate's status as cert-manager writes it, and say why.

    An apply that created the Certificate says nothing about the certificate itself:
    cert-manager issues it afterwards (an ACME order can take minutes, or fail) and renews
    it at two thirds of its lifetime. So: Ready with a renewal that failed is still ready
    (the old certificate serves) but says so; Ready within ``margin`` of ``notAfter`` is
    failed (the renewals are not working and the certificate is about to expire)."""
    if certificate is None:
        return CertificateState.PENDING, "the Certificate does not exist (yet)"
    status = certificate.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    issuing = conditions.get("Issuing") or {}
    # cert-manager sets Issuing=False with reason Failed when an issuance attempt failed
    # (it retries later with backoff).
    failure = str(issuing.get("message") or "") if issuing.get("reason") == "Failed" else ""
    not_after = _timestamp(status.get("notAfter"))
    if ready.get("status") == "True":
        expires = f"valid until {not_after:%Y-%m-%d %H:%M} UTC" if not_after else "ready"
        if not_after is not None and not_after - now <= margin:
            return CertificateState.FAILED, f"expires {not_after:%Y-%m-%d %H:%M} UTC and was " + (
                f"not renewed: {failure}" if failure else "not renewed"
            )
        if failure:
            return CertificateState.READY, f"{expires}; the last renewal failed: {failure}"
        return CertificateState.READY, expires
    if ready.get("status") == "False" and failure:
        return CertificateState.FAILED, failure
    return CertificateState.PENDING, str(ready.get("message") or "no Ready condition yet")


def _timestamp(value: object) -> datetime | None:
    """An RFC 3339 time as the API writes it (``2026-12-07T06:00:00Z``), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
