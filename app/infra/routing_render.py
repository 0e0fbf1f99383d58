"""Render an account's routing workspace: the Kubernetes objects its clients share.

``WORKSPACES_DIR/{account}/_routing/`` holds the account's wildcard Certificate, one per
verified custom domain, and (``ROUTING_API=gateway``) the account's ListenerSet with a
listener per certificate (:mod:`app.infra.routing_objects`). It is created with the
account's first deployed client and destroyed with its last (``app.services.routing``);
like the client route, every object is a ``*.k8s.json`` file the ``kubernetes_objects``
module applies as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.infra import routing_objects as objects
from app.infra.render import (
    TERRAFORM_DIR,
    AwsTarget,
    KubernetesTarget,
    RenderedWorkspace,
    _aws_tfvars,
    _backend_context,
    _json_bytes,
    _rendered,
    _require,
    _workspace_files,
)
from app.names import is_account_number, is_dns_name

ROUTING_DIR_NAME = "_routing"  # never a client name: those are DNS labels


@dataclass(frozen=True, slots=True)
class RoutingWorkspaceSpec:
    """Everything that decides an account's routing workspace."""

    account_number: str
    zone_name: str  # CUSTOMER_API_DOMAIN
    kubernetes: KubernetesTarget
    aws: AwsTarget
    domains: tuple[str, ...] = ()  # verified custom domains, sorted

    @classmethod
    def from_settings(
        cls, settings: Settings, account_number: str, domains: Iterable[str] = ()
    ) -> RoutingWorkspaceSpec:
        return cls(
            account_number=account_number,
            zone_name=settings.CUSTOMER_API_DOMAIN.strip().lower().rstrip("."),
            kubernetes=KubernetesTarget.from_settings(settings),
            aws=AwsTarget.from_settings(settings),
            domains=tuple(sorted({d.strip().lower().rstrip(".") for d in domains})),
        )

    def __post_init__(self) -> None:
        _require(is_account_number(self.account_number), "account_number must be ####-####-####")
        _require(is_dns_name(self.zone_name), "CUSTOMER_API_DOMAIN must be a DNS name")
        _require(
            len(self.domains) <= objects.MAX_DOMAINS,
            f"an account's ListenerSet holds {objects.MAX_DOMAINS} custom domains at most",
        )
        for name in (self.account_wildcard, *map(objects.wildcard, self.domains)):
            # A wildcard is at most 253 characters: a domain holding a client host is.
            _require(
                is_dns_name(name.removeprefix("*.")) and len(name) <= 253, f"bad name {name!r}"
            )

    @property
    def account_wildcard(self) -> str:
        return objects.wildcard(f"{self.account_number}.{self.zone_name}")

    @property
    def state_key(self) -> str:
        return f"routing/{self.account_number}.tfstate"

    def certificates(self) -> list[tuple[str, str, str]]:
        """(listener, certificate name, wildcard) of every certificate, the account's first."""
        number = self.account_number
        return [
            (
                objects.ACCOUNT_LISTENER,
                objects.account_certificate_name(number),
                self.account_wildcard,
            ),
            *(
                (
                    objects.domain_listener(domain),
                    objects.domain_certificate_name(number, domain),
                    objects.wildcard(domain),
                )
                for domain in self.domains
            ),
        ]

    def kubernetes_objects(self) -> dict[str, dict[str, Any]]:
        """The workspace's ``*.k8s.json`` files: certificates, then the ListenerSet."""
        k8s = self.kubernetes
        labels = objects.account_labels(self.account_number)
        files = {
            f"certificate-{listener}.k8s.json": objects.certificate_manifest(
                name=name,
                namespace=k8s.namespace,
                dns_names=[hostname],
                cluster_issuer=k8s.cert_issuer,
                labels=labels,
                annotations={"chatdock/hostname": hostname},
            )
            for listener, name, hostname in self.certificates()
        }
        if k8s.routing_api == "gateway":
            files["listenerset.k8s.json"] = objects.listener_set_manifest(
                name=objects.listener_set_name(self.account_number),
                namespace=k8s.namespace,
                gateway_name=k8s.gateway_name,
                gateway_namespace=k8s.gateway_namespace,
                port=k8s.listener_port,
                listeners=[
                    (listener, hostname, objects.secret_of(name))
                    for listener, name, hostname in self.certificates()
                ],
                labels=labels,
            )
        return files

    def tfvars(self) -> dict[str, Any]:
        return {
            "account_number": self.account_number,
            "tags": {"managed-by": "chatdock", "chatdock:account": self.account_number},
            **_aws_tfvars(self.aws),
        }


def routing_workspace_path(workspaces_dir: str | Path, account_number: str) -> Path:
    """``WORKSPACES_DIR/{account}/_routing``: next to the account's clients."""
    return Path(workspaces_dir) / account_number / ROUTING_DIR_NAME


def render_routing_workspace(
    spec: RoutingWorkspaceSpec,
    workspaces_dir: str | Path,
    *,
    terraform_dir: Path = TERRAFORM_DIR,
    dry_run: bool = False,
) -> RenderedWorkspace:
    """Render ``WORKSPACES_DIR/{account}/_routing/``; ``dry_run`` as for clients."""
    context = {
        "account_number": spec.account_number,
        "kubernetes_enabled": True,
        **_backend_context(spec.aws, spec.state_key),
    }
    files = _workspace_files(
        terraform_dir, "routing", context, ("kubernetes_objects",), spec.tfvars()
    )
    files |= {name: _json_bytes(obj) for name, obj in spec.kubernetes_objects().items()}
    path = routing_workspace_path(workspaces_dir, spec.account_number)
    return _rendered(path, files, spec.aws, spec.state_key, dry_run)
