"""routing_run: plan (review) and apply, or destroy, an account's routing workspace
(its wildcard certificates and listeners: ``app.services.routing``)."""

from __future__ import annotations

from collections.abc import Callable

from app.config import current_settings
from app.infra import kubernetes
from app.infra.render import RenderedWorkspace
from app.infra.routing_objects import secret_of
from app.infra.run_log import RunLog
from app.models import InfraRun, RunKind
from app.services import runs
from app.services.infra import release_routing
from jobs.common import job_context, load_run


def routing_run(run_id: int) -> str:
    run = load_run(run_id)
    with job_context("routing", run) as log, runs.locked_workspace(run, log):
        workspace = runs.render_for_run(run)
        log(f"rendered {workspace.path} (config {workspace.config_hash[:12]})")
        if run.kind == RunKind.APPLY and runs.applied_if_unchanged(run, workspace, log):
            return run.status.value
        runs.plan_then_apply_if_approved(run, workspace, log, after_routing(run, workspace, log))
    return run.status.value


def after_routing(
    run: InfraRun, workspace: RenderedWorkspace, log: RunLog
) -> Callable[[], None] | None:
    """After a destroy of the routing, before the run shows destroyed: nothing of it
    stays, neither the wildcards' secrets (cert-manager keeps a Secret when its
    Certificate goes) nor its workspace, state object and pending plans."""
    if run.kind != RunKind.DESTROY:
        return None

    def forget() -> None:
        namespace = current_settings().KUBERNETES_NAMESPACE
        for _listener, name, _hostname in runs.routing_spec(run.account_number).certificates():
            deleted = kubernetes.delete_secret(namespace, secret_of(name))
            log(f"certificate secret {secret_of(name)}: {'deleted' if deleted else 'already gone'}")
        runs.forget_workspace(run, workspace, log)

    return forget


def apply_routing_run(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> bool:
    """Apply an approved routing run (from ``apply_run``)."""
    return runs.apply(run, workspace, log, after_routing(run, workspace, log))


def after_client_destroyed(run: InfraRun) -> None:
    """The destroy of a client is done: its account's routing goes if it was the last."""
    release_routing(run)
