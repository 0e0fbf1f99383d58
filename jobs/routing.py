"""routing_run: plan (review) and apply, or destroy, an account's routing workspace
(its wildcard certificates and listeners: ``app.services.routing``)."""

from __future__ import annotations

from app.models import RunKind
from app.services import runs
from app.services.after_apply import after_step
from jobs.common import job_context


def routing_run(run_id: int) -> str:
    run = runs.load_run(run_id)
    with job_context("routing_run", run) as log, runs.locked_workspace(run, log):
        workspace = runs.render_for_run(run)
        log(f"rendered {workspace.path} (config {workspace.config_hash[:12]})")
        if run.kind == RunKind.APPLY and runs.applied_if_unchanged(run, workspace, log):
            return run.status.value
        runs.plan_then_apply_if_approved(run, workspace, log, after_step(run, workspace, log))
    return run.status.value
