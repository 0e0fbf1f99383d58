"""provision_domain: plan (review) and apply a custom domain's hosted zone;
destroy_domain: destroy it and forget the domain."""

from __future__ import annotations

from app.services import runs
from app.services.after_apply import after_step
from jobs.common import job_context


def provision_domain(domain_id: int, run_id: int) -> str:
    run = runs.load_run(run_id)
    with (
        job_context("provision_domain", run, domain_id=domain_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        log(f"rendered {workspace.path} (config {workspace.config_hash[:12]})")
        # the zone is recorded before the run shows applied
        runs.plan_then_apply_if_approved(run, workspace, log, after_step(run, workspace, log))
    return run.status.value


def destroy_domain(domain_id: int, run_id: int) -> str:
    run = runs.load_run(run_id)
    with (
        job_context("destroy_domain", run, domain_id=domain_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        runs.plan(run, workspace, log)
        # The row goes before the run shows destroyed: whoever waits for it sees it gone.
        runs.apply(run, workspace, log, after_step(run, workspace, log))
    return run.status.value
