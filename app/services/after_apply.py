"""What an apply leaves to do before its run shows done, for every job that applies.

A deploy applies a fresh plan, ``apply_run`` an approved one, a delete or a domain's
destroy a destroy plan: each apply of the same kind of run needs the same after-step
(``after_step``), whichever job runs it. The step runs before the run's status moves,
so whoever sees the run done sees what the step did (a zone recorded, a domain or a
deleted client's leftovers gone).
"""

from __future__ import annotations

from collections.abc import Callable

from app.config import current_settings
from app.infra import kubernetes
from app.infra.render import RenderedWorkspace
from app.infra.routing_objects import secret_of
from app.infra.run_log import RunLog
from app.models import InfraRun, RunKind
from app.services import runs
from app.services.domain_checks import zone_ready
from app.services.domains import domain_of_run
from app.services.domains import forget_domain as forget_domain_row

AfterStep = Callable[[], None]


def after_step(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> AfterStep | None:
    """The step after this run's apply: a domain's zone or its removal, a deleted
    client's leftovers; None for a client that exists (nothing more to do)."""
    if runs.is_domain_run(run):
        if run.kind == RunKind.APPLY:
            return lambda: record_zone(run, workspace, log)
        return lambda: forget_domain(run, workspace, log)
    if runs.is_routing_run(run):
        if run.kind == RunKind.DESTROY:
            return lambda: forget_routing(run, workspace, log)
        return None
    if run.kind == RunKind.DESTROY and run.client_id is None:  # a deleted client's
        return lambda: forget_client(run, workspace, log)
    return None


def record_zone(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After a domain's apply: read the zone from terraform's outputs, record it, and
    start checking the delegation."""
    domain = domain_of_run(run)
    if domain is None:
        return
    outputs = runs.runner_for(workspace.path, log).output_json()
    zone_id = outputs["zone_id"]["value"]
    name_servers = outputs["name_servers"]["value"]
    log(f"zone {zone_id}: delegate {domain.domain} to {', '.join(name_servers)}")
    zone_ready(domain, zone_id, name_servers)


def forget_domain(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After a domain's destroy: drop its workspace (and its state) and its row."""
    runs.forget_workspace(run, workspace, log)
    domain = domain_of_run(run)
    if domain is not None:
        forget_domain_row(domain)
        log(f"custom domain {run.target_name} deleted")


def forget_client(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After a deleted client's destroy: its certificate secret (cert-manager leaves it
    behind), its workspace, state object and pending plans."""
    settings = current_settings()
    if settings.KUBERNETES_ENABLED:
        # the per-client certificate's secret, of clients made before the account wildcards
        secret = runs.client_spec(run.account_number, run.target_name).legacy_tls_secret_name
        deleted = kubernetes.delete_secret(settings.KUBERNETES_NAMESPACE, secret)
        log(f"certificate secret {secret}: {'deleted' if deleted else 'already gone'}")
    runs.forget_workspace(run, workspace, log)


def forget_routing(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After a destroy of an account's routing, before the run shows destroyed: nothing
    of it stays, neither the wildcards' secrets (cert-manager keeps a Secret when its
    Certificate goes) nor its workspace, state object and pending plans."""
    namespace = current_settings().KUBERNETES_NAMESPACE
    for _listener, name, _hostname in runs.routing_spec(run.account_number).certificates():
        deleted = kubernetes.delete_secret(namespace, secret_of(name))
        log(f"certificate secret {secret_of(name)}: {'deleted' if deleted else 'already gone'}")
    runs.forget_workspace(run, workspace, log)
