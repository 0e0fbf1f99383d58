"""deploy_default_api: render, plan, (review,) apply a client's infrastructure;
apply_run: apply an approved plan."""

from __future__ import annotations

from app.services import runs
from app.services.after_apply import after_step
from app.services.infra import release_routing
from jobs.common import job_context


def deploy_default_api(client_id: int, run_id: int) -> str:
    run = runs.load_run(run_id)
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
    run = runs.load_run(run_id)
    with job_context("apply_run", run) as log, runs.locked_workspace(run, log):
        workspace = runs.render_for_run(run)
        runs.apply(run, workspace, log, after_step(run, workspace, log))
    release_routing(run)  # an approved destroy of an account's last client
    return run.status.value
