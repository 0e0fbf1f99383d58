"""delete_default_api: tear down a deleted client's infrastructure from its URL alone.

The client row is already gone when this runs, so everything is derived from the name,
the account number and the URL the client was served at.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.config import current_settings
from app.infra import kubernetes
from app.infra.render import RenderedWorkspace, render_client_workspace
from app.infra.run_log import RunLog
from app.models import InfraRun
from app.services import runs
from jobs.common import job_context, load_run
from jobs.routing import after_client_destroyed


def customer_domain_of(api_url: str, name: str, account_number: str) -> str:
    """``https://demo.1234-5678-9012.api.example.com/llm-client/`` -> ``api.example.com``."""
    host = (urlsplit(api_url).hostname or "").lower()
    prefix = f"{name}.{account_number}."
    if not host.startswith(prefix) or len(host) == len(prefix):
        raise ValueError(f"{api_url!r} is not the URL of client {name} of {account_number}")
    return host[len(prefix) :]


def delete_default_api(name: str, account_number: str, api_url: str, run_id: int) -> str:
    run = load_run(run_id)
    kwargs = {"name": name, "account_number": account_number, "api_url": api_url}
    with job_context("delete_default_api", run, **kwargs) as log:
        domain = customer_domain_of(api_url, name, account_number)
        with runs.locked_workspace(run, log):
            spec = runs.client_spec(account_number, name, customer_api_domain=domain)
            workspace = render_client_workspace(spec, runs.workspaces_dir())
            runs.plan(run, workspace, log)
            runs.apply(run, workspace, log, lambda: forget_client(run, workspace, log))
    after_client_destroyed(run)
    return run.status.value


def forget_client(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """What the destroy leaves of a deleted client goes before its run is marked
    destroyed, so whoever sees the run destroyed finds nothing of the client: the secret
    of the per-client certificate chatdock made before the account wildcards (if any),
    its workspace, state object and pending plans."""
    settings = current_settings()
    if settings.KUBERNETES_ENABLED:
        spec = runs.client_spec(run.account_number, run.target_name)
        secret = spec.legacy_tls_secret_name
        deleted = kubernetes.delete_secret(settings.KUBERNETES_NAMESPACE, secret)
        log(f"certificate secret {secret}: {'deleted' if deleted else 'already gone'}")
    runs.forget_workspace(run, workspace, log)
