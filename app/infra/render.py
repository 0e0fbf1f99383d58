"""Render the Terraform root module of one workspace: a client, or a custom domain.

A workspace is self-contained: the templates of ``terraform/templates/<kind>/`` rendered,
the modules it calls copied to ``modules/``, and every value in ``terraform.tfvars.json``
(JSON, so no value is ever spliced into HCL; only the backend block, which cannot use
variables, gets literals through the ``hcl`` filter). With Kubernetes on, the client's
route is a JSON file too (``*.k8s.json``, :mod:`app.infra.client_objects`), which the
``kubernetes_objects`` module applies as it is; the objects the account's clients share
are rendered into the account's routing workspace (:mod:`app.infra.routing_render`).
Providers are not copied: ``init`` links them from the mirror (``terraform init
-plugin-dir``, in :mod:`app.infra.terraform`).

Rendering is deterministic and idempotent: the same spec gives byte-identical files and
the same ``config_hash``; files whose content is unchanged are not rewritten (their mtime
stays), and Terraform configuration files that no longer belong are removed, so the
hash always describes exactly the configuration Terraform will read. State, lock file,
``.terraform/``, plan files and logs are never touched nor hashed
(:mod:`app.infra.workspace_files`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from app.config import Settings
from app.domains.names import default_host as make_default_host
from app.infra import client_objects
from app.infra.workspace_files import (
    RenderedWorkspace,
    config_hash,
    sync_workspace,
)
from app.names import (
    is_account_number,
    is_client_name,
    is_dns_label,
    is_dns_name,
    is_kubernetes_service_name,
    is_kubernetes_subdomain,
    kubernetes_object_name,
    tls_secret_name,
)

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
DOMAINS_DIR_NAME = "_domains"  # never a client name: those are DNS labels
TFVARS_FILE = "terraform.tfvars.json"

_ZONE_ID_RE = re.compile(r"[A-Z0-9]{1,32}")  # matched with fullmatch, as all rules here
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")


# --- specs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """Where a workspace's AWS resources and its state live (shared by all kinds)."""

    region: str
    endpoint_url: str = ""
    state_backend: str = "local"
    state_bucket: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsTarget:
        return cls(
            region=settings.AWS_REGION,
            endpoint_url=settings.AWS_ENDPOINT_URL.rstrip("/"),
            state_backend=settings.TF_STATE_BACKEND,
            state_bucket=settings.TF_STATE_BUCKET.strip(),
        )

    def __post_init__(self) -> None:
        _require(_REGION_RE.fullmatch(self.region), f"AWS_REGION {self.region!r} is not a region")
        if self.endpoint_url:
            url = urlsplit(self.endpoint_url)
            _require(
                url.scheme in ("http", "https") and url.netloc,
                f"AWS_ENDPOINT_URL {self.endpoint_url!r} is not an http(s) URL",
            )
        _require(
            self.state_backend in ("local", "s3"),
            f"TF_STATE_BACKEND must be local or s3, not {self.state_backend!r}",
        )
        _require(
            self.state_backend != "s3" or self.state_bucket,
            "TF_STATE_BUCKET is required when TF_STATE_BACKEND is s3",
        )


@dataclass(frozen=True, slots=True)
class KubernetesTarget:
    """How clients are exposed in the cluster (only when KUBERNETES_ENABLED)."""

    namespace: str
    ingress_class: str
    cert_issuer: str
    service_name: str
    service_port: int
    routing_api: str = "gateway"  # "gateway" | "ingress"
    gateway_name: str = "chatdock"
    gateway_namespace: str = "chatdock-gateway"
    listener_port: int = 443

    @classmethod
    def from_settings(cls, settings: Settings) -> KubernetesTarget:
        return cls(
            namespace=settings.KUBERNETES_NAMESPACE,
            ingress_class=settings.INGRESS_CLASS,
            cert_issuer=settings.CERT_ISSUER,
            service_name=settings.INGRESS_SERVICE_NAME,
            service_port=settings.INGRESS_SERVICE_PORT,
            routing_api=settings.ROUTING_API,
            gateway_name=settings.GATEWAY_NAME,
            gateway_namespace=settings.GATEWAY_NAMESPACE,
            listener_port=settings.GATEWAY_LISTENER_PORT,
        )

    def __post_init__(self) -> None:
        _require(is_dns_label(self.namespace), "KUBERNETES_NAMESPACE must be a DNS label")
        _require(
            is_kubernetes_service_name(self.service_name),
            "INGRESS_SERVICE_NAME must be a Service name (a DNS label starting with a letter)",
        )
        _require(1 <= self.service_port <= 65535, "INGRESS_SERVICE_PORT must be 1-65535")
        _require(1 <= self.listener_port <= 65535, "GATEWAY_LISTENER_PORT must be 1-65535")
        _require(self.routing_api in ("gateway", "ingress"), "ROUTING_API: gateway or ingress")
        _require(is_dns_label(self.gateway_namespace), "GATEWAY_NAMESPACE must be a DNS label")
        for name, value in (
            ("INGRESS_CLASS", self.ingress_class),
            ("CERT_ISSUER", self.cert_issuer),
            ("GATEWAY_NAME", self.gateway_name),
        ):
            _require(is_kubernetes_subdomain(value), f"bad {name} {value!r}")


@dataclass(frozen=True, slots=True)
class ClientWorkspaceSpec:
    """Everything that decides a client workspace's configuration, and nothing else."""

    account_number: str
    client_name: str
    default_host: str
    zone_id: str  # hosted zone of CUSTOMER_API_DOMAIN; "" = looked up by zone_name
    zone_name: str
    dns_record_mode: str  # "a" | "alias"
    ingress_ips: tuple[str, ...]  # mode a
    dns_ttl: int  # mode a
    ingress_lb_dns_name: str  # mode alias
    ingress_lb_zone_id: str  # mode alias
    aws: AwsTarget
    kubernetes: KubernetesTarget | None  # None: KUBERNETES_ENABLED is off
    custom_hosts: tuple[tuple[str, str], ...] = ()  # (zone_id, fqdn), sorted by fqdn

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        account_number: str,
        client_name: str,
        custom_hosts: Iterable[tuple[str, str]] = (),
    ) -> ClientWorkspaceSpec:
        """The spec of a client under these settings; custom_hosts are (zone_id, fqdn)."""
        domain = settings.CUSTOMER_API_DOMAIN.strip().lower().rstrip(".")
        mode = settings.DNS_RECORD_MODE
        alias = mode == "alias"
        return cls(
            account_number=account_number,
            client_name=client_name,
            default_host=make_default_host(client_name, account_number, domain),
            zone_id=settings.ROUTE53_ZONE_ID.strip().removeprefix("/hostedzone/"),
            zone_name=domain,
            dns_record_mode=mode,
            ingress_ips=() if alias else _sorted_ips(settings.INGRESS_IPS),
            dns_ttl=settings.DNS_TTL,
            ingress_lb_dns_name=settings.INGRESS_LB_DNS_NAME.strip() if alias else "",
            ingress_lb_zone_id=settings.INGRESS_LB_ZONE_ID.strip() if alias else "",
            aws=AwsTarget.from_settings(settings),
            kubernetes=(
                KubernetesTarget.from_settings(settings) if settings.KUBERNETES_ENABLED else None
            ),
            custom_hosts=tuple(
                sorted((z.strip().removeprefix("/hostedzone/"), h.lower()) for z, h in custom_hosts)
            ),
        )

    def __post_init__(self) -> None:
        _require(is_account_number(self.account_number), "account_number must be ####-####-####")
        _require(is_client_name(self.client_name), "client_name must be a DNS label")
        _require(is_dns_name(self.zone_name), "CUSTOMER_API_DOMAIN must be a DNS name")
        _require(
            self.default_host.endswith(f".{self.zone_name}") and is_dns_name(self.default_host),
            "default_host must be a DNS name inside CUSTOMER_API_DOMAIN",
        )
        _require(not self.zone_id or _ZONE_ID_RE.fullmatch(self.zone_id), "bad ROUTE53_ZONE_ID")
        self._check_target()
        names = [host for _, host in self.custom_hosts]
        _require(len(set(names)) == len(names), "custom hosts must be unique")
        for zone_id, host in self.custom_hosts:
            _require(_ZONE_ID_RE.fullmatch(zone_id), f"bad zone id {zone_id!r} of {host}")
            _require(is_dns_name(host) and host != self.default_host, f"bad custom host {host!r}")

    def _check_target(self) -> None:
        _require(self.dns_record_mode in ("a", "alias"), "DNS_RECORD_MODE must be a or alias")
        if self.dns_record_mode == "alias":
            _require(
                is_dns_name(self.ingress_lb_dns_name.lower().rstrip("."))
                and _ZONE_ID_RE.fullmatch(self.ingress_lb_zone_id),
                "DNS_RECORD_MODE alias needs INGRESS_LB_DNS_NAME and INGRESS_LB_ZONE_ID",
            )
            return
        _require(self.ingress_ips, "DNS_RECORD_MODE a needs INGRESS_IPS")
        _require(len(set(self.ingress_ips)) == len(self.ingress_ips), "INGRESS_IPS repeats")
        for ip in self.ingress_ips:
            _require(_is_ipv4(ip), f"INGRESS_IPS: {ip!r} is not an IPv4 address")
        _require(0 <= self.dns_ttl <= 2_147_483_647, "DNS_TTL must be 0-2147483647")

    @property
    def route_name(self) -> str:
        """Name of the client's HTTPRoute or Ingress (unique in the shared namespace)."""
        return kubernetes_object_name(self.account_number, self.client_name)

    @property
    def legacy_tls_secret_name(self) -> str:
        """The secret of the per-client Certificate chatdock made before the wildcards:
        cert-manager keeps it after the Certificate goes; delete removes it."""
        return tls_secret_name(self.account_number, self.client_name)

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host of the client, default host first."""
        return (self.default_host, *(host for _, host in self.custom_hosts))

    @property
    def state_key(self) -> str:
        return f"clients/{self.account_number}/{self.client_name}.tfstate"

    def kubernetes_objects(self) -> dict[str, dict[str, Any]]:
        """The route file of the workspace (none unless Kubernetes is on): an HTTPRoute,
        or an Ingress with ``ROUTING_API=ingress``; the ``kubernetes_objects`` module
        applies it as it is."""
        k8s = self.kubernetes
        if k8s is None:
            return {}
        common: dict[str, Any] = {
            "name": self.route_name,
            "namespace": k8s.namespace,
            "account_number": self.account_number,
            "hosts": self.hosts,
            "service_name": k8s.service_name,
            "service_port": k8s.service_port,
            "labels": client_objects.object_labels(self.account_number, self.client_name),
        }
        route = (
            client_objects.httproute_manifest(**common)
            if k8s.routing_api == "gateway"
            else client_objects.ingress_manifest(ingress_class=k8s.ingress_class, **common)
        )
        return {client_objects.ROUTE_FILE: route}

    def tfvars(self) -> dict[str, Any]:
        """The values of the root module's variables."""
        return {
            "account_number": self.account_number,
            "client_name": self.client_name,
            "default_host": self.default_host,
            "zone_id": self.zone_id,
            "zone_name": self.zone_name,
            "dns_record_mode": self.dns_record_mode,
            "ingress_ips": list(self.ingress_ips),
            "dns_ttl": self.dns_ttl,
            "ingress_lb_dns_name": self.ingress_lb_dns_name,
            "ingress_lb_zone_id": self.ingress_lb_zone_id,
            "custom_records": [{"zone_id": z, "name": h} for z, h in sorted(self.custom_hosts)],
            "tags": {
                "managed-by": "chatdock",
                "chatdock:account": self.account_number,
                "chatdock:client": self.client_name,
            },
            **_aws_tfvars(self.aws),
        }


@dataclass(frozen=True, slots=True)
class DomainWorkspaceSpec:
    """Everything that decides a custom domain's (account-level) workspace."""

    account_number: str
    domain: str
    aws: AwsTarget

    @classmethod
    def from_settings(
        cls, settings: Settings, account_number: str, domain: str
    ) -> DomainWorkspaceSpec:
        """The spec of a custom domain; refuses domains inside CUSTOMER_API_DOMAIN."""
        domain = domain.strip().lower().rstrip(".")
        base = settings.CUSTOMER_API_DOMAIN.strip().lower().rstrip(".")
        _require(
            domain != base and not domain.endswith(f".{base}") and not base.endswith(f".{domain}"),
            f"custom domain {domain!r} overlaps CUSTOMER_API_DOMAIN {base!r}",
        )
        return cls(account_number, domain, AwsTarget.from_settings(settings))

    def __post_init__(self) -> None:
        _require(is_account_number(self.account_number), "account_number must be ####-####-####")
        _require(is_dns_name(self.domain), f"custom domain {self.domain!r} is not a DNS name")

    @property
    def state_key(self) -> str:
        return f"domains/{self.account_number}/{self.domain}.tfstate"

    def tfvars(self) -> dict[str, Any]:
        return {
            "account_number": self.account_number,
            "domain": self.domain,
            "zone_comment": f"chatdock custom domain of account {self.account_number}",
            "tags": {
                "managed-by": "chatdock",
                "chatdock:account": self.account_number,
                "chatdock:domain": self.domain,
            },
            **_aws_tfvars(self.aws),
        }


# --- rendering ------------------------------------------------------------------------


def client_workspace_path(
    workspaces_dir: str | Path, account_number: str, client_name: str
) -> Path:
    """``WORKSPACES_DIR/{account}/{client}``: found again without rendering (e.g. delete)."""
    return Path(workspaces_dir) / account_number / client_name


def domain_workspace_path(workspaces_dir: str | Path, account_number: str, domain: str) -> Path:
    """``WORKSPACES_DIR/{account}/_domains/{domain}``: next to the account's clients."""
    return Path(workspaces_dir) / account_number / DOMAINS_DIR_NAME / domain


def render_client_workspace(
    spec: ClientWorkspaceSpec,
    workspaces_dir: str | Path,
    *,
    terraform_dir: Path = TERRAFORM_DIR,
    dry_run: bool = False,
) -> RenderedWorkspace:
    """Render ``WORKSPACES_DIR/{account}/{client}/`` (client_dns; ingress when enabled).

    ``dry_run``: only compute path and hash, writing nothing (e.g. a stale-plan check made
    without holding the workspace lock)."""
    context = {
        "account_number": spec.account_number,
        "client_name": spec.client_name,
        "kubernetes_enabled": spec.kubernetes is not None,
        **_backend_context(spec.aws, spec.state_key),
    }
    modules = ("client_dns", "kubernetes_objects") if spec.kubernetes else ("client_dns",)
    files = _workspace_files(terraform_dir, "client", context, modules, spec.tfvars())
    files |= {name: _json_bytes(obj) for name, obj in spec.kubernetes_objects().items()}
    path = client_workspace_path(workspaces_dir, spec.account_number, spec.client_name)
    return _rendered(path, files, spec.aws, spec.state_key, dry_run)


def render_domain_workspace(
    spec: DomainWorkspaceSpec,
    workspaces_dir: str | Path,
    *,
    terraform_dir: Path = TERRAFORM_DIR,
    dry_run: bool = False,
) -> RenderedWorkspace:
    """Render ``WORKSPACES_DIR/{account}/_domains/{domain}/`` (the custom_domain module);
    ``dry_run`` as for clients."""
    context = {
        "account_number": spec.account_number,
        "domain": spec.domain,
        "kubernetes_enabled": False,
        **_backend_context(spec.aws, spec.state_key),
    }
    files = _workspace_files(
        terraform_dir, "custom_domain", context, ("custom_domain",), spec.tfvars()
    )
    path = domain_workspace_path(workspaces_dir, spec.account_number, spec.domain)
    return _rendered(path, files, spec.aws, spec.state_key, dry_run)


def _rendered(
    path: Path, files: Mapping[str, bytes], aws: AwsTarget, state_key: str, dry_run: bool
) -> RenderedWorkspace:
    """The rendered workspace (written to ``path`` unless ``dry_run``)."""
    workspace = RenderedWorkspace(path, config_hash(files)) if dry_run else None
    workspace = workspace or sync_workspace(path, files)
    return replace(workspace, state_key=state_key, state_location=state_location(aws, state_key))


def state_location(aws: AwsTarget, state_key: str) -> str:
    """Where a workspace's state lives, as ``backend_state_location`` reads it back."""
    if aws.state_backend == "s3":
        return f"s3://{aws.state_bucket}/{state_key}"
    return "local:terraform.tfstate"


def hcl_string(value: object) -> str:
    """A quoted HCL string literal: JSON escapes are valid HCL; template markers are not."""
    return json.dumps(str(value)).replace("${", "$${").replace("%{", "%%{")


def _workspace_files(
    terraform_dir: Path,
    kind: str,
    context: Mapping[str, Any],
    modules: Iterable[str],
    tfvars: Mapping[str, Any],
) -> dict[str, bytes]:
    files = _render_templates(terraform_dir / "templates", kind, context)
    for module in modules:
        for source in sorted((terraform_dir / "modules" / module).glob("*.tf")):
            files[f"modules/{module}/{source.name}"] = source.read_bytes()
    files[TFVARS_FILE] = _json_bytes(tfvars)
    return files


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    """Sorted, indented JSON: the same values always give the same bytes (and hash)."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _render_templates(
    templates_dir: Path, kind: str, context: Mapping[str, Any]
) -> dict[str, bytes]:
    env = _jinja_env(templates_dir)
    return {
        source.name.removesuffix(".j2"): env.get_template(f"{kind}/{source.name}")
        .render(context)
        .encode()
        for source in sorted((templates_dir / kind).glob("*.j2"))
    }


@lru_cache(maxsize=4)
def _jinja_env(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # HCL, not HTML; values go through the hcl filter or tfvars JSON
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["hcl"] = hcl_string
    return env


def _backend_context(aws: AwsTarget, state_key: str) -> dict[str, Any]:
    return {
        "aws_region": aws.region,
        "aws_endpoint_url": aws.endpoint_url,
        "state_backend": aws.state_backend,
        "state_bucket": aws.state_bucket,
        "state_key": state_key,
    }


def _aws_tfvars(aws: AwsTarget) -> dict[str, str]:
    values = {"aws_region": aws.region}
    if aws.endpoint_url:
        values["aws_endpoint_url"] = aws.endpoint_url
    return values


def _sorted_ips(ips: Iterable[ipaddress.IPv4Address]) -> tuple[str, ...]:
    """Deduplicated and sorted: the record set is unordered, and the same set must give
    the same files."""
    return tuple(str(ip) for ip in sorted(set(ips)))


def _is_ipv4(value: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(value)) == value
    except ValueError:
        return False


def _require(condition: object, message: str) -> None:
    if not condition:
        raise ValueError(message)
