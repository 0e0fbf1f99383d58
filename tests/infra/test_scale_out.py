"""Scale-out: three `flask worker` processes, each with its own working directory and
WORKSPACES_DIR as if on three machines, sharing PostgreSQL (the database pass), Redis
and moto (Route53, and S3 holding Terraform's state with its lock file). Any worker runs
any step of any run; nothing a later step needs lives on one worker's disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import redis as redis_client
from sqlalchemy import func, select

from app.errors import Conflict
from app.extensions import db
from app.infra.locks import lock_name
from app.models import CustomDomain, DeploymentStatus, InfraRun, RunStatus, StoredPlan
from app.services import domains as domain_service
from app.services import infra
from tests.conftest import host_of
from tests.infra.conftest import a_records, domain_settings, fresh, wait_until
from tests.infra.test_faults import poll, terraform_applying_in, terraform_processes_in

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


DONE = {RunStatus.APPLIED, RunStatus.DESTROYED, RunStatus.ERRORED, RunStatus.DISCARDED}


@pytest.fixture
def infra_settings(infra_settings, moto_server, dev_dns):
    """The S3 backend on a bucket of this test's own (shared by every worker)."""
    bucket = f"state-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return {
        **infra_settings,
        **domain_settings(dev_dns),
        "TF_STATE_BACKEND": "s3",
        "TF_STATE_BUCKET": bucket,
    }


@pytest.fixture
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


def bucket_keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


@dataclass
class Machine:
    """One worker process and the folders only it sees."""

    proc: subprocess.Popen
    home: Path

    @property
    def workspaces(self) -> Path:
        return self.home / "workspaces"

    def workspace(self, account_number: str, client: str) -> Path:
        return self.workspaces / account_number / client

    def stop(self) -> None:
        """Warm shutdown of the worker (and its scheduler): it is idle."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)

    def crash(self, workspace: Path) -> None:
        """The machine dies: the worker, its scheduler, and terraform with its provider
        running in ``workspace``, all SIGKILLed at once."""
        doomed = terraform_processes_in(workspace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def machine(worker_process, tmp_path):
    """Start worker ``n`` on its own "machine" (working directory and WORKSPACES_DIR)."""

    def start(number: int) -> Machine:
        home = tmp_path / f"machine-{number}"
        home.mkdir(exist_ok=True)
        proc = worker_process({"WORKSPACES_DIR": str(home / "workspaces")}, cwd=home)
        return Machine(proc, home)

    return start


def stored_plans() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(StoredPlan)).scalar_one()


def state_key(run: InfraRun) -> str:
    return f"{run.workspace_key}.tfstate"


def test_a_plan_made_on_one_worker_is_applied_on_a_second_and_destroyed_on_a_third(
    infra_app, infra_settings, machine, account, make_client, route53, zone_id, s3
):
    client = make_client(account, "roaming", deployed=False)
    number = account.account_number
    first = machine(1)
    run = infra.request_deploy(client)
    run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, *DONE})
    assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    assert stored_plans() == 1
    first.stop()  # the machine that planned is gone before the apply
    shutil.rmtree(first.home)

    second = machine(2)
    infra.approve_run(run.id)
    run = wait_until(run.id, DONE)
    assert run.status == RunStatus.APPLIED, run.log
    assert "workspace not initialised on this worker: terraform init" in run.log
    assert len(a_records(route53, zone_id, host_of(client))) == 1
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYED
    assert second.workspace(number, "roaming").is_dir()
    assert bucket_keys(s3, infra_settings["TF_STATE_BUCKET"]) == [state_key(run)]
    assert stored_plans() == 0  # the applied run's plan went with it
    second.stop()

    third = machine(3)
    undeploy = infra.request_undeploy(fresh(client.id), auto_approve=True)
    undeploy = wait_until(undeploy.id, DONE)
    assert undeploy.status == RunStatus.DESTROYED, undeploy.log
    assert a_records(route53, zone_id, host_of(client)) == []
    assert third.workspace(number, "roaming").is_dir()
    assert fresh(client.id).deployment_status == DeploymentStatus.DRAFT
    assert stored_plans() == 0


def test_a_worker_killed_mid_apply_leaves_nothing_behind_and_another_worker_converges(
    infra_app, infra_settings, redis_url, machine, account, make_client, route53, zone_id, s3
):
    client = make_client(account, "phoenix", deployed=False)
    bucket = infra_settings["TF_STATE_BUCKET"]
    doomed = machine(2)
    run = infra.request_deploy(client, auto_approve=True)
    run = wait_until(run.id, {RunStatus.APPLYING, *DONE})
    assert run.status == RunStatus.APPLYING, run.log
    workspace = doomed.workspace(account.account_number, "phoenix")
    assert poll(lambda: terraform_applying_in(workspace), timeout=60), "terraform never applied"
    lock_file = f"{state_key(run)}.tflock"
    assert poll(lambda: lock_file in bucket_keys(s3, bucket), timeout=60), "no state lock file"
    doomed.crash(workspace)
    assert terraform_processes_in(workspace) == []

    machine(1)
    machine(3)
    again = infra.request_deploy(fresh(client.id), auto_approve=True)
    again = wait_until(again.id, DONE, timeout=300)
    assert again.status == RunStatus.APPLIED, again.log
    assert "removed the state lock file of a terraform that stopped" in again.log
    db.session.expire_all()
    assert db.session.get(InfraRun, run.id).status == RunStatus.ERRORED  # abandoned
    assert len(a_records(route53, zone_id, host_of(client))) == 1
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYED
    # Nothing left behind: no workspace lock, no state lock file, no stored plan.
    assert not redis_client.Redis.from_url(redis_url).exists(lock_name(run.workspace_key))
    assert bucket_keys(s3, bucket) == [state_key(run)]
    assert stored_plans() == 0


def test_workspaces_wiped_on_every_worker_between_plan_and_approve_apply_the_reviewed_plan(
    infra_app, machine, account, make_client, route53, zone_id
):
    client = make_client(account, "amnesiac", deployed=False)
    machines = [machine(n) for n in (1, 2, 3)]
    run = infra.request_deploy(client)
    run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, *DONE})
    assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    reviewed = run.plan_file_hash
    assert db.session.execute(select(StoredPlan.sha256)).scalar_one() == reviewed
    for each in machines:
        shutil.rmtree(each.workspaces, ignore_errors=True)

    infra.approve_run(run.id)
    run = wait_until(run.id, DONE)
    assert run.status == RunStatus.APPLIED, run.log
    assert run.plan_file_hash == reviewed
    assert "workspace not initialised on this worker: terraform init" in run.log
    assert len(a_records(route53, zone_id, host_of(client))) == 1
    assert fresh(client.id).live_hosts == [host_of(client)]


def test_a_stored_plan_that_changed_is_refused_at_approval(
    infra_app, machine, account, make_client
):
    client = make_client(account, "tampered", deployed=False)
    machine(1)
    run = infra.request_deploy(client)
    run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, *DONE})
    assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    stored = db.session.execute(select(StoredPlan)).scalar_one()
    stored.data = stored.data + b"\0"
    db.session.commit()
    with pytest.raises(Conflict, match="the saved plan file changed"):
        infra.approve_run(run.id)
    db.session.expire_all()
    assert db.session.get(InfraRun, run.id).status == RunStatus.DISCARDED
    assert stored_plans() == 0


def test_deleted_clients_and_domains_leave_nothing_in_s3_route53_or_the_database(
    infra_app, infra_settings, machine, account, make_client, route53, zone_id, s3
):
    for n in (1, 2, 3):
        machine(n)
    names = ("gone", "brief", "stays")
    clients = {name: make_client(account, name, deployed=False) for name in names}
    hosts = {name: host_of(client) for name, client in clients.items()}
    ids = {name: client.id for name, client in clients.items()}
    deploys = [infra.request_deploy(clients[name], auto_approve=True).id for name in names]
    domain, zone_run = domain_service.add_domain(account, "scale.example.test", auto_approve=True)
    domain_id = domain.id
    for run_id in [*deploys, zone_run.id]:
        run = wait_until(run_id, DONE, timeout=300)
        assert run.status == RunStatus.APPLIED, run.log
    zone_key = state_key(run)
    client_keys = [state_key(wait_until(run_id, DONE)) for run_id in deploys]
    assert bucket_keys(s3, infra_settings["TF_STATE_BUCKET"]) == sorted([*client_keys, zone_key])
    zones = {z["Name"].rstrip(".") for z in route53.list_hosted_zones()["HostedZones"]}
    assert "scale.example.test" in zones

    undeploy = infra.request_undeploy(fresh(ids["brief"]), auto_approve=True)
    assert wait_until(undeploy.id, DONE).status == RunStatus.DESTROYED
    deletes = [
        infra.request_delete(fresh(ids["gone"])).id,
        infra.request_delete(fresh(ids["brief"])).id,
        domain_service.delete_domain(domain_service.get_domain("scale.example.test")).id,
    ]
    for run_id in deletes:
        run = wait_until(run_id, DONE, timeout=300)
        assert run.status == RunStatus.DESTROYED, run.log

    stays = wait_until(deploys[2], DONE)
    assert bucket_keys(s3, infra_settings["TF_STATE_BUCKET"]) == [state_key(stays)]
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    ours = [r["Name"].rstrip(".") for r in records if account.account_number in r["Name"]]
    assert ours == [hosts["stays"]]  # the zone is the module's: other tests' records are there
    zones = {z["Name"].rstrip(".") for z in route53.list_hosted_zones()["HostedZones"]}
    assert "scale.example.test" not in zones
    db.session.expire_all()
    assert stored_plans() == 0
    assert fresh(ids["gone"]) is None and fresh(ids["brief"]) is None
    assert db.session.get(CustomDomain, domain_id) is None
