"""What is served follows the last apply; pending, failed and discarded changes change
nothing; removal fails closed; a job acts only for its live run; the reconciler puts
Redis back in line with the database; an unreachable Redis refuses with nothing changed.

Real Redis, real jobs run by an in-process burst worker where a job must run; runs are
moved through their statuses directly where terraform itself is not the point (the
end-to-end scenarios with terraform are in ``test_live_client.py``)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db
from app.infra.locks import WorkspaceLock
from app.models import (
    CustomDomain,
    DeploymentStatus,
    DomainStatus,
    InfraRun,
    LlmClient,
    RunStatus,
)
from app.models.common import utcnow
from app.queue import JOBS, QueueUnavailable, job_queue, redis_connection
from app.services import domains as domain_service
from app.services import infra, reconcile, runs
from app.services.client_state import client_state
from app.services.domain_checks import check_job_id
from tests.conftest import host_of
from tests.infra.conftest import fresh, run_burst_worker

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def chat_status(app, host: str) -> int:
    return app.test_client().post("/llm-client/", json=CHAT, headers={"Host": host}).status_code


def finish_run(run: InfraRun, status: RunStatus, **fields) -> InfraRun:
    """Move a run as its job would, and let the client follow (no terraform here)."""
    db.session.refresh(run)
    if status == RunStatus.APPLIED and not run.hosts:
        client = runs.client_of(run)
        run.hosts = [host_of(client), *pipeline_custom_hosts(client)]
    runs.set_status(run, status, **fields)
    runs.sync_client_status(run)
    return run


def pipeline_custom_hosts(client: LlmClient) -> list[str]:
    return [host for _, host in runs.custom_hosts_of(client)]


@pytest.fixture
def live(infra_app, account, make_client):
    """A client deployed by a (simulated) applied run."""
    client = make_client(account, "live", deployed=False)
    run = infra.request_deploy(client)
    finish_run(run, RunStatus.APPLIED)
    client = fresh(client.id)
    assert client.deployment_status == DeploymentStatus.DEPLOYED
    return client


@pytest.fixture
def verified_domain(infra_app, account) -> CustomDomain:
    domain = CustomDomain(
        account=account,
        domain="bots.example.test",
        status=DomainStatus.VERIFIED,
        zone_id="Z123EXAMPLE",
        name_servers=["ns1.example.test"],
        verified_at=utcnow(),
    )
    db.session.add(domain)
    db.session.commit()
    return domain


@pytest.mark.parametrize(
    ("outcome", "fields"),
    [
        (RunStatus.AWAITING_APPROVAL, {}),
        (RunStatus.ERRORED, {"error": "AWS is unreachable"}),
        (RunStatus.DISCARDED, {"note": "discarded by an operator"}),
        (RunStatus.PLANNING, {}),
    ],
)
def test_a_change_of_a_live_client_never_takes_it_offline(infra_app, live, outcome, fields):
    run = infra.request_deploy(live)
    assert chat_status(infra_app, host_of(live)) == 200  # queued
    finish_run(run, outcome, **fields)
    client = fresh(live.id)
    assert client.deployment_status == DeploymentStatus.DEPLOYED
    assert chat_status(infra_app, host_of(client)) == 200
    state = client_state(client)
    assert state.serving and state.hosts == (host_of(client),)
    assert state.change is not None and state.change.run_id == run.id
    if outcome == RunStatus.ERRORED:
        assert state.headline() == (
            f"deployed, last change failed (run {run.id}): AWS is unreachable"
        )
    if outcome == RunStatus.AWAITING_APPROVAL:
        assert state.headline() == f"deployed, change awaiting review (run {run.id})"


def test_first_deploy_that_fails_leaves_a_draft_with_the_reason(infra_app, account, make_client):
    client = make_client(account, "newbie", deployed=False)
    run = infra.request_deploy(client)
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYING
    assert chat_status(infra_app, host_of(client)) == 404
    finish_run(run, RunStatus.ERRORED, error="no route to AWS")
    client = fresh(client.id)
    assert client.deployment_status == DeploymentStatus.DRAFT
    assert client_state(client).headline() == (
        f"draft, last change failed (run {run.id}): no route to AWS"
    )


def test_undeploy_stops_serving_at_once_and_a_failed_destroy_fails_closed(infra_app, live):
    run = infra.request_undeploy(live)
    assert chat_status(infra_app, host_of(live)) == 404  # before anything is destroyed
    finish_run(run, RunStatus.ERRORED, error="throttled")
    client = fresh(live.id)
    assert client.deployment_status == DeploymentStatus.UNDEPLOYING
    assert chat_status(infra_app, host_of(client)) == 404
    assert client_state(client).headline() == (
        f"undeploying, last undeploy failed (run {run.id}): throttled"
    )


def test_discarding_an_undeploy_plan_serves_the_client_again(infra_app, live):
    run = infra.request_undeploy(live)
    finish_run(run, RunStatus.AWAITING_APPROVAL, planned_at=utcnow())
    assert chat_status(infra_app, host_of(live)) == 404
    infra.discard_run(run.id)
    assert fresh(live.id).deployment_status == DeploymentStatus.DEPLOYED
    assert chat_status(infra_app, host_of(live)) == 200


def test_custom_host_served_only_after_the_apply_that_creates_it(infra_app, live, verified_domain):
    custom = f"live.{verified_domain.domain}"
    run = domain_service.attach_client(verified_domain, live)
    assert run is not None and run.status == RunStatus.QUEUED
    assert chat_status(infra_app, custom) == 400  # an unknown host  # attached, but no record yet
    finish_run(run, RunStatus.AWAITING_APPROVAL)
    assert chat_status(infra_app, custom) == 400  # an unknown host
    assert chat_status(infra_app, host_of(live)) == 200
    finish_run(run, RunStatus.APPLIED, hosts=[host_of(live), custom])
    assert chat_status(infra_app, custom) == 200
    assert client_state(fresh(live.id)).hosts == (custom, host_of(live))

    # Detach: refused from the moment of the request, before the record is destroyed.
    detach = domain_service.detach_client(fresh(live.id))
    assert chat_status(infra_app, custom) == 400  # an unknown host
    assert chat_status(infra_app, host_of(live)) == 200
    finish_run(detach, RunStatus.ERRORED, error="boom")  # the record stays, unserved
    assert chat_status(infra_app, custom) == 400  # an unknown host


def test_a_job_acts_only_for_its_live_run(infra_app, account, make_client):
    client = make_client(account, "guarded", deployed=False)
    old = infra.request_deploy(client)
    finish_run(old, RunStatus.ERRORED, error="its worker was killed")
    # RQ runs the abandoned job again: it must not touch the errored run.
    job_queue().enqueue(JOBS["deploy"], client.id, old.id, job_id=old.rq_job_id)
    run_burst_worker(infra_app)
    db.session.expire_all()
    old = db.session.get(InfraRun, old.id)
    assert old.status == RunStatus.ERRORED and old.error == "its worker was killed"
    assert "nothing to do: run" in old.log and "already errored" in old.log


def test_an_earlier_queued_run_is_superseded_by_a_later_one(infra_app, account, make_client):
    client = make_client(account, "twice", deployed=False)
    first = infra.request_deploy(client)
    second = infra.request_deploy(fresh(client.id))
    log = pipeline_log(first.id)
    with (
        pytest.raises(runs.RunNotLive, match=f"superseded by run {second.id}"),
        _locked(first, log),
    ):
        pass
    db.session.expire_all()
    assert db.session.get(InfraRun, first.id).status == RunStatus.DISCARDED
    assert db.session.get(InfraRun, second.id).status == RunStatus.QUEUED
    assert fresh(client.id).deployment_status == DeploymentStatus.DEPLOYING


def test_a_run_left_in_progress_is_errored_by_the_next_job(infra_app, account, make_client):
    client = make_client(account, "orphan", deployed=False)
    run = infra.request_deploy(client)
    runs.set_status(run, RunStatus.PLANNING)  # its worker died here
    with pytest.raises(runs.RunNotLive, match="abandoned"), _locked(run, pipeline_log(run.id)):
        pass
    db.session.refresh(run)
    assert run.status == RunStatus.ERRORED and "worker" in run.error
    assert fresh(client.id).deployment_status == DeploymentStatus.DRAFT


def pipeline_log(run_id: int):
    return runs.run_log(run_id, echo=False)


def _locked(run: InfraRun, log):
    return runs.locked_workspace(run, log)


def test_lost_lock_stops_terraform_before_its_next_step(infra_app, redis_url):
    lock = WorkspaceLock(redis_connection(), "clients/1111-2222-3333/x", ttl=30)
    lock.acquire(wait_timeout=1)
    try:
        assert lock.lost_reason(thorough=True) is None
        redis.Redis.from_url(redis_url).delete(lock.name)  # expired, or Redis restarted
        assert lock.lost_reason(thorough=True) == (
            "the lock of workspace clients/1111-2222-3333/x was lost"
        )
        assert lock.lost and not lock.held
    finally:
        lock.release()


# --- the reconciler --------------------------------------------------------------------


def _age(run: InfraRun, seconds: float = 60) -> None:
    run.created_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


def test_reconciler_enqueues_a_run_left_without_a_job_and_it_runs(infra_app, redis_url, live):
    run = infra.request_undeploy(live)
    redis.Redis.from_url(redis_url).flushdb()  # its job is gone (Redis flushed, restarted)
    _age(run)
    report = reconcile.sweep()
    assert report.requeued == [run.id]
    db.session.refresh(run)
    assert Job.fetch(run.rq_job_id, connection=redis_connection()).args == (live.id, run.id)
    assert reconcile.sweep().requeued == []  # its job is alive now: nothing twice


def test_reconciler_fails_runs_abandoned_in_progress(infra_app, live):
    run = infra.request_deploy(live)
    runs.set_status(run, RunStatus.APPLYING)
    # Held lock: its worker is alive; nothing happens.
    lock = WorkspaceLock(redis_connection(), run.workspace_key, ttl=30).acquire(wait_timeout=1)
    assert reconcile.sweep().abandoned == []
    lock.release()  # the worker died; its lock expired
    assert reconcile.sweep().abandoned == []  # a live job that lost it gets a lock lifetime
    deadline = time.monotonic() + 30
    abandoned: list[int] = []
    while not abandoned and time.monotonic() < deadline:
        time.sleep(0.5)
        abandoned = reconcile.sweep().abandoned
    assert abandoned == [run.id]
    db.session.refresh(run)
    assert run.status == RunStatus.ERRORED
    assert fresh(live.id).deployment_status == DeploymentStatus.DEPLOYED  # still live


def test_reconciler_rearms_domain_checks_lost_with_redis(infra_app, redis_url, verified_domain):
    due = utcnow() - timedelta(minutes=5)
    verified_domain.next_check_at = due
    db.session.commit()
    redis.Redis.from_url(redis_url).flushdb()
    report = reconcile.sweep()
    assert report.checks == [verified_domain.domain]
    job = Job.fetch(check_job_id(verified_domain.id, due), connection=redis_connection())
    assert job.args == (verified_domain.id, due.timestamp())
    assert reconcile.sweep().checks == []


def test_infra_reconcile_command(infra_app, live):
    result = infra_app.test_cli_runner().invoke(args=["infra", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "runs enqueued again: none" in result.output


# --- Redis unreachable: refused, nothing changed ----------------------------------------


@pytest.fixture
def redis_down(make_app, infra_settings, live):
    """The same database, with Redis unreachable (a closed loopback port)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(**{**infra_settings, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    with app.app_context():
        yield app


def _counts() -> tuple[int, int]:
    runs = db.session.scalar(select(func.count()).select_from(InfraRun))
    clients = db.session.scalar(select(func.count()).select_from(LlmClient))
    return runs, clients


@pytest.mark.parametrize("command", ["deploy", "undeploy", "delete"])
def test_redis_down_refuses_with_nothing_changed(redis_down, live, command):
    before = _counts()
    args = ["clients", command, "live", "--account", live.account.account_number]
    result = redis_down.test_cli_runner().invoke(args=[*args, *(["--yes"] * (command == "delete"))])
    assert result.exit_code == 1, result.output
    assert "Redis" in result.output and "nothing was changed" in result.output
    assert "Traceback" not in result.output
    assert _counts() == before
    assert fresh(live.id).deployment_status == DeploymentStatus.DEPLOYED


def test_redis_down_refuses_the_console_and_services_cleanly(redis_down, live):
    with pytest.raises(QueueUnavailable):
        infra.request_delete(fresh(live.id))
    assert fresh(live.id) is not None


def test_enqueue_failure_after_commit_is_recovered_by_the_reconciler(infra_app, live, monkeypatch):
    """Redis fails between the check and the enqueue: the run is recorded, queued
    without a job, and the reconciler enqueues it once Redis answers again."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq import Queue

    def refuse(*args, **kwargs):
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(Queue, "enqueue", refuse)
    run = infra.request_deploy(live, auto_approve=True)
    monkeypatch.undo()
    db.session.refresh(run)
    assert run.status == RunStatus.QUEUED and run.rq_job_id is None
    _age(run)
    run_id = run.id
    assert reconcile.sweep().requeued == [run_id]
    run_burst_worker(infra_app)
    db.session.expire_all()
    run = db.session.get(InfraRun, run_id)
    assert run.rq_job_id and "attempt 1" in run.log
    assert run.status == RunStatus.APPLIED, run.log


def test_approving_a_run_still_planning_says_so(infra_app, live):
    run = infra.request_deploy(live)
    result = infra_app.test_cli_runner().invoke(args=["infra", "approve", str(run.id)])
    assert result.exit_code == 1
    assert f"run {run.id} is still queued: there is no plan to approve yet" in result.output
    assert f"flask infra approve {run.id} --wait" in result.output
    db.session.refresh(run)
    assert run.status == RunStatus.QUEUED and run.approved_at is None
