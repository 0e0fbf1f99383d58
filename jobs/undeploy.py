"""undeploy_default_api: destroy a client's infrastructure and keep the client."""

from __future__ import annotations

from app.services import runs
from jobs.common import job_context, load_run
from jobs.routing import after_client_destroyed


def undeploy_default_api(client_id: int, run_id: int) -> str:
    run = load_run(run_id)
    with (
        job_context("undeploy_default_api", run, client_id=client_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        runs.plan_then_apply_if_approved(run, workspace, log)
    after_client_destroyed(run)
    return run.status.value
