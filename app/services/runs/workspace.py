"""Where a run's workspace lives and how it is rendered and run: workspace keys, specs
from settings, the terraform runner with the AWS environment."""

from __future__ import annotations

import contextvars
import shutil
from pathlib import Path

from sqlalchemy import select

from app.config import Settings, current_settings
from app.extensions import db
from app.hosts import default_host
from app.infra import remote_state
from app.infra.locks import WorkspaceLock
from app.infra.render import (
    ClientWorkspaceSpec,
    DomainWorkspaceSpec,
    RenderedWorkspace,
    render_client_workspace,
    render_domain_workspace,
)
from app.infra.routing_render import RoutingWorkspaceSpec, render_routing_workspace
from app.infra.run_log import RunLog
from app.infra.terraform import TerraformRunner
from app.models import (
    Account,
    CustomDomain,
    DomainStatus,
    InfraRun,
    LlmClient,
)
from app.services.runs.status import client_of

DOMAIN_KEY_PREFIX = "domains/"
ROUTING_KEY_PREFIX = "routing/"


# The workspace lock of the run this job works on: terraform stops when it is lost.
_current_lock: contextvars.ContextVar[WorkspaceLock | None] = contextvars.ContextVar(
    "workspace_lock", default=None
)


def workspaces_dir(settings: Settings | None = None) -> Path:
    """WORKSPACES_DIR; create_app() sets its default (``<instance>/workspaces``)."""
    settings = settings or current_settings()
    if not settings.WORKSPACES_DIR:
        raise RuntimeError("WORKSPACES_DIR is empty: settings not of an app (create_app)")
    return Path(settings.WORKSPACES_DIR)


def client_workspace_key(account_number: str, client_name: str) -> str:
    return f"clients/{account_number}/{client_name}"


def domain_workspace_key(account_number: str, domain: str) -> str:
    return f"{DOMAIN_KEY_PREFIX}{account_number}/{domain}"


def is_domain_run(run: InfraRun) -> bool:
    return run.workspace_key.startswith(DOMAIN_KEY_PREFIX)


def routing_workspace_key(account_number: str) -> str:
    """The account's routing workspace: its wildcard certificates and listeners."""
    return f"{ROUTING_KEY_PREFIX}{account_number}"


def is_routing_run(run: InfraRun) -> bool:
    return run.workspace_key.startswith(ROUTING_KEY_PREFIX)


def routing_spec(account_number: str) -> RoutingWorkspaceSpec:
    """The account's routing as it should be now: its verified custom domains (a domain
    being deleted is not served any more) get a wildcard listener and certificate."""
    domains = db.session.execute(
        select(CustomDomain.domain)
        .join(Account, CustomDomain.account_id == Account.id)
        .where(
            Account.account_number == account_number,
            CustomDomain.verified_at.is_not(None),
            CustomDomain.zone_id.is_not(None),
            CustomDomain.status != DomainStatus.DELETING,
        )
    ).scalars()
    return RoutingWorkspaceSpec.from_settings(current_settings(), account_number, domains)


def client_spec(
    account_number: str,
    client_name: str,
    customer_api_domain: str | None = None,
    custom_hosts: tuple[tuple[str, str], ...] = (),
) -> ClientWorkspaceSpec:
    """The workspace spec from settings; a deleted client's own domain may differ."""
    settings = current_settings()
    if customer_api_domain and customer_api_domain != settings.CUSTOMER_API_DOMAIN:
        settings = settings.model_copy(update={"CUSTOMER_API_DOMAIN": customer_api_domain})
    return ClientWorkspaceSpec.from_settings(settings, account_number, client_name, custom_hosts)


def custom_hosts_of(client: LlmClient | None) -> tuple[tuple[str, str], ...]:
    """(zone id, host) of the client on its custom domain, once that domain was verified."""
    domain = client.custom_domain if client is not None else None
    if client is None or domain is None or not domain.ever_verified or not domain.zone_id:
        return ()
    return ((domain.zone_id, f"{client.name}.{domain.domain}"),)


def render_routing_hash(account_number: str) -> str:
    """The config hash the account's routing workspace would have now (nothing written)."""
    spec = routing_spec(account_number)
    return render_routing_workspace(spec, workspaces_dir(), dry_run=True).config_hash


def render_for_run(run: InfraRun, *, dry_run: bool = False) -> RenderedWorkspace:
    """Render the run's workspace (``dry_run``: only compute its path and hash)."""
    if is_routing_run(run):
        routing = routing_spec(run.account_number)
        return render_routing_workspace(routing, workspaces_dir(), dry_run=dry_run)
    if is_domain_run(run):
        spec = DomainWorkspaceSpec.from_settings(
            current_settings(), run.account_number, run.target_name
        )
        return render_domain_workspace(spec, workspaces_dir(), dry_run=dry_run)
    client_workspace = client_spec(
        run.account_number, run.target_name, custom_hosts=custom_hosts_of(client_of(run))
    )
    if not dry_run:
        run.hosts = [client_workspace.default_host, *(h for _, h in client_workspace.custom_hosts)]
    return render_client_workspace(client_workspace, workspaces_dir(), dry_run=dry_run)


def client_api_url(client: LlmClient) -> str:
    host = default_host(
        client.name, client.account.account_number, current_settings().CUSTOMER_API_DOMAIN
    )
    return f"https://{host}/llm-client/"


def aws_env(settings: Settings) -> dict[str, str]:
    """The standard AWS environment for the provider (boto3 reads the same variables)."""
    env = {"AWS_REGION": settings.AWS_REGION, "AWS_DEFAULT_REGION": settings.AWS_REGION}
    if settings.AWS_ENDPOINT_URL:
        env["AWS_ENDPOINT_URL"] = settings.AWS_ENDPOINT_URL
    if settings.AWS_MAX_ATTEMPTS:
        env["AWS_MAX_ATTEMPTS"] = str(settings.AWS_MAX_ATTEMPTS)
    return env


def runner_for(path: Path, log: RunLog) -> TerraformRunner:
    """A runner that stops terraform as soon as the job's workspace lock is lost."""
    settings = current_settings()
    lock = _current_lock.get()
    return TerraformRunner(
        path,
        binary=settings.TF_BINARY,
        plugin_dir=settings.TF_PLUGIN_DIR,
        timeout=settings.TF_TIMEOUT_SECONDS,
        env=aws_env(settings),
        log=log,
        abort=lock.lost_reason if lock is not None else None,
    )


def clear_stale_state_lock(workspace: RenderedWorkspace, log: RunLog) -> None:
    """We hold the workspace lock, so a state lock file still in S3 belongs to a terraform
    that died with its worker (SIGKILL, a lost machine): left there, it would block every
    later run of the workspace."""
    removed = remote_state.clear_stale_lock(current_settings(), workspace.state_key)
    if removed is not None:
        log(f"removed the state lock file of a terraform that stopped: {removed}")


def remove_workspace(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
