"""The few Kubernetes calls made outside Terraform (with the official client)."""

from __future__ import annotations

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException


def _core_api() -> client.CoreV1Api:
    """In-cluster credentials when running in a pod, else the local kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CoreV1Api()


def delete_secret(namespace: str, name: str) -> bool:
    """Delete cert-manager's certificate secret; False when it was already gone.

    cert-manager leaves the secret behind when its Certificate is deleted, so a deleted
    client's TLS key would otherwise stay in the cluster.
    """
    try:
        _core_api().delete_namespaced_secret(name=name, namespace=namespace)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
