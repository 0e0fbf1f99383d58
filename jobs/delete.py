"""delete_default_api: tear down a deleted client's infrastructure from its URL alone.

The client row is already gone when this runs, so everything is derived from the name,
the account number and the URL the client was served at.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.infra.render import render_client_workspace
from app.services import runs
from app.services.after_apply import forget_client
from app.services.infra import release_routing
from jobs.common import job_context


def customer_domain_of(api_url: str, name: str, account_number: str) -> str:
    """``https://demo.1234-5678-9012.api.example.com/llm-client/`` -> ``api.example.com``."""
    host = (urlsplit(api_url).hostname or "").lower()
    prefix = f"{name}.{account_number}."
    if not host.startswith(prefix) or len(host) == len(prefix):
        raise ValueError(f"{api_url!r} is not the URL of client {name} of {account_number}")
    return host[len(prefix) :]


def delete_default_api(name: str, account_number: str, api_url: str, run_id: int) -> str:
    run = runs.load_run(run_id)
    kwargs = {"name": name, "account_number": account_number, "api_url": api_url}
    with job_context("delete_default_api", run, **kwargs) as log:
        domain = customer_domain_of(api_url, name, account_number)
        with runs.locked_workspace(run, log):
            spec = runs.client_spec(account_number, name, customer_api_domain=domain)
            workspace = render_client_workspace(spec, runs.workspaces_dir())
            runs.plan(run, workspace, log)
            runs.apply(run, workspace, log, lambda: forget_client(run, workspace, log))
    release_routing(run)  # the account's routing goes with its last client
    return run.status.value
