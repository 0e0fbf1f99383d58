"""undeploy_default_api: destroy a client's infrastructure and keep the client."""

from __future__ import annotations

from app.services import runs
from app.services.infra import release_routing
from jobs.common import job_context


def undeploy_default_api(client_id: int, run_id: int) -> str:
    run = runs.load_run(run_id)
    with (
        job_context("undeploy_default_api", run, client_id=client_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        runs.plan_then_apply_if_approved(run, workspace, log)
    release_routing(run)  # the account's routing goes with its last client
    return run.status.value
