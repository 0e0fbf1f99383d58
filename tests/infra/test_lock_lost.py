"""A workspace lock lost mid-apply (its TTL expired, Redis restarted): terraform is
stopped before it goes on, the run does not finish on the old lock, and it goes back to
review; approved again, the cut-short apply is finished. Real terraform, moto, Redis and
a worker process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis as redis_client

from app.infra.locks import lock_name
from app.models import DeploymentStatus, RunStatus
from app.services import infra
from tests.conftest import host_of
from tests.infra.conftest import a_records, fresh, wait_until
from tests.infra.test_faults import poll, terraform_applying_in, terraform_processes_in

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


SETTLED = {RunStatus.AWAITING_APPROVAL, RunStatus.APPLIED, RunStatus.ERRORED}


def test_a_lock_lost_mid_apply_stops_terraform_and_the_run_goes_back_to_review(
    infra_app, infra_settings, redis_url, worker_process, account, make_client, route53, zone_id
):
    client = make_client(account, "unlucky", deployed=False)
    worker_process()
    run = infra.request_deploy(client, auto_approve=True)
    run = wait_until(run.id, {RunStatus.APPLYING, *SETTLED})
    assert run.status == RunStatus.APPLYING, run.log
    # The run is APPLYING from the start of its job: wait for terraform apply itself (a
    # lock lost before it starts is found between the steps, without one to stop).
    path = Path(infra_settings["WORKSPACES_DIR"]) / account.account_number / "unlucky"
    assert poll(lambda: terraform_applying_in(path), timeout=120, interval=0.05), run.log
    # The lock vanishes under the running apply (its TTL expired, Redis restarted).
    redis_client.Redis.from_url(redis_url).delete(lock_name(run.workspace_key))
    run = wait_until(run.id, SETTLED)
    assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    assert "was lost" in run.error and run.approved_at is None
    assert "stopping it" in run.log
    deadline = time.monotonic() + 30
    while terraform_processes_in(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert terraform_processes_in(path) == []
    # Reviewed again and approved: the apply that was cut short is finished.
    infra.approve_run(run.id)
    run = wait_until(run.id, SETTLED)
    assert run.status == RunStatus.APPLIED, run.log
    assert len(a_records(route53, zone_id, host_of(client))) == 1
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYED
