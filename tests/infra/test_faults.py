"""Failures the infrastructure jobs must survive: a dead AWS endpoint, a killed worker,
a job timeout. Real terraform, moto, Redis and worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from app.extensions import db
from app.models import DeploymentStatus, InfraRun, RunStatus
from app.services import infra
from app.services.accounts import create_account
from app.services.client_state import client_state
from devtools.services import moto_server
from tests.conftest import CUSTOMER_DOMAIN, host_of
from tests.infra.conftest import a_records, fresh, run_burst_worker, silent_endpoint, wait_until

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


def terraform_processes_in(path: Path) -> list[int]:
    """Processes (terraform or its providers) whose working directory is ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if Path(os.readlink(entry / "cwd")).resolve() == path.resolve():
                found.append(int(entry.name))
    return found


def terraform_applying_in(path: Path) -> bool:
    """Whether ``terraform apply`` runs in ``path`` now."""
    for pid in terraform_processes_in(path):
        with contextlib.suppress(OSError):
            if b"apply" in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0"):
                return True
    return False


def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (checked every ``interval``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def test_endpoint_down_during_apply_is_retried_then_errored(
    app, make_app, infra_settings, worker_process, make_client
):
    with moto_server() as endpoint:
        route53 = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1")
        zone = route53.create_hosted_zone(Name=CUSTOMER_DOMAIN, CallerReference="down")
        settings = {
            **infra_settings,
            "AWS_ENDPOINT_URL": endpoint,
            "ROUTE53_ZONE_ID": zone["HostedZone"]["Id"].rsplit("/", 1)[-1],
            "AWS_MAX_ATTEMPTS": 1,
        }
        down = make_app(**settings)
        with down.app_context():
            client = make_client(create_account("Fragile"), "fragile", deployed=False)
            client_id = client.id
            run = infra.request_deploy(client)
            run_burst_worker(down)
            run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED})
            assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    # moto is gone now: the apply cannot reach AWS.
    with down.app_context():
        infra.approve_run(run.id)
        worker_process(settings)
        run = wait_until(run.id, {RunStatus.ERRORED, RunStatus.APPLIED}, timeout=300)
        assert run.status == RunStatus.ERRORED
        assert run.attempts == 3  # the plan, the apply, and one retry of the apply
        assert "retrying" in run.log
        assert "connection refused" in run.log.lower() or "connect" in run.log.lower()
        assert run.error
        # A first deploy that failed leaves a draft; the failure is the pending change.
        client = fresh(client_id)
        assert client.deployment_status == DeploymentStatus.DRAFT
        change = client_state(client).change
        assert change is not None and change.failed and change.run_id == run.id


def test_killed_worker_releases_the_lock_and_a_new_deploy_converges(
    infra_app, infra_settings, worker_process, account, make_client, route53, zone_id
):
    client = make_client(account, "survivor", deployed=False)
    host = host_of(client)
    workspace = Path(infra_settings["WORKSPACES_DIR"]) / account.account_number / "survivor"
    first = worker_process()
    run = infra.request_deploy(client, auto_approve=True)
    run = wait_until(run.id, {RunStatus.APPLYING, RunStatus.APPLIED, RunStatus.ERRORED})
    assert run.status == RunStatus.APPLYING, run.log
    assert poll(lambda: terraform_applying_in(workspace), timeout=60), "terraform never applied"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)

    worker_process()
    again = infra.request_deploy(fresh(client.id), auto_approve=True)
    again = wait_until(again.id, {RunStatus.APPLIED, RunStatus.ERRORED}, timeout=300)
    assert again.status == RunStatus.APPLIED, again.log
    db.session.expire_all()
    assert db.session.get(InfraRun, run.id).status == RunStatus.ERRORED  # marked abandoned
    records = a_records(route53, zone_id, host)
    assert len(records) == 1, records
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYED


def described(pids: list[int]) -> list[str]:
    """``pid ppid=N program`` of each process still there (for an assertion's message)."""
    found = []
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            proc = Path("/proc") / str(pid)
            ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            program = Path((proc / "cmdline").read_bytes().split(b"\0")[0].decode()).name
            found.append(f"{pid} ppid={ppid} {program}")
    return found


def provider_running_in(path: Path) -> bool:
    return any("terraform-provider" in name for name in described(terraform_processes_in(path)))


def test_a_worker_killed_mid_apply_takes_terraform_and_its_provider_and_is_noticed(
    infra_app, infra_settings, worker_process, account, make_client
):
    client = make_client(account, "doomed", deployed=False)
    workspace = Path(infra_settings["WORKSPACES_DIR"]) / account.account_number / "doomed"
    # A lock that would outlive the test: only its dead holder tells the run is over.
    settings = {"LOCK_TTL_SECONDS": 900, "RECONCILE_SECONDS": 2}
    first = worker_process(settings)
    run = infra.request_deploy(client, auto_approve=True)
    run = wait_until(run.id, {RunStatus.APPLYING, RunStatus.APPLIED, RunStatus.ERRORED})
    assert run.status == RunStatus.APPLYING, run.log
    assert poll(lambda: terraform_applying_in(workspace), timeout=60), "terraform never applied"
    assert poll(lambda: provider_running_in(workspace), timeout=60), "no provider started"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)

    gone = poll(lambda: not terraform_processes_in(workspace), timeout=30)
    assert gone, f"left running: {described(terraform_processes_in(workspace))}"
    worker_process(settings)  # its reconciler finds the dead worker's run
    run = wait_until(run.id, {RunStatus.ERRORED, RunStatus.APPLIED}, timeout=90)
    assert run.status == RunStatus.ERRORED, run.log
    assert "worker" in run.error and "died" in run.error
    assert "errored: the worker died (its process is gone" in run.log
    assert "back to review" not in run.log
    assert fresh(client.id).deployment_status == DeploymentStatus.DRAFT


def test_job_timeout_leaves_no_terraform_process(
    app, make_app, infra_settings, worker_process, make_client, zone_id
):
    with silent_endpoint() as endpoint:
        settings = {**infra_settings, "AWS_ENDPOINT_URL": endpoint, "JOB_TIMEOUT_SECONDS": 20}
        hanging = make_app(**settings)
        with hanging.app_context():
            account = create_account("Stuck")
            client = make_client(account, "stuck", deployed=False)
            run = infra.request_deploy(client, auto_approve=True)
            worker_process(settings)
            run = wait_until(run.id, {RunStatus.ERRORED, RunStatus.APPLIED}, timeout=120)
            assert run.status == RunStatus.ERRORED
            assert "timed out" in run.error
            workspace = Path(infra_settings["WORKSPACES_DIR"]) / account.account_number / "stuck"
            assert poll(lambda: not terraform_processes_in(workspace), timeout=10)
            assert terraform_processes_in(workspace) == []
