"""deploy_default_api: render, plan, (review,) apply a client's infrastructure;
apply_run: apply an approved plan."""

from __future__ import annotations

from app.models import RunKind
from app.services import runs
from jobs.common import job_context, load_run
from jobs.delete import forget_client
from jobs.domains import apply_domain_run
from jobs.routing import after_client_destroyed, apply_routing_run


def deploy_default_api(client_id: int, run_id: int) -> str:
    run = load_run(run_id)
    with (
        job_context("deploy_default_api", run, client_id=client_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        log(f"rendered {workspace.path} (config {workspace.config_hash[:12]})")
        hint = "; use --drift-check to compare with the real infrastructure"
        if not run.drift_check and runs.applied_if_unchanged(run, workspace, log, hint):
            return run.status.value
        runs.plan_then_apply_if_approved(run, workspace, log)
    return run.status.value


def apply_run(run_id: int) -> str:
    run = load_run(run_id)
    with job_context("apply_run", run) as log, runs.locked_workspace(run, log):
        workspace = runs.render_for_run(run)
        if runs.is_domain_run(run):
            apply_domain_run(run, workspace, log)
        elif runs.is_routing_run(run):
            apply_routing_run(run, workspace, log)
        elif run.kind == RunKind.DESTROY and run.client_id is None:  # a deleted client's
            runs.apply(run, workspace, log, lambda: forget_client(run, workspace, log))
        else:
            runs.apply(run, workspace, log)
    after_client_destroyed(run)
    return run.status.value
