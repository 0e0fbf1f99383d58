"""A run's status and its client's state commit together: the run's log never commits the
job's unit of work, discarding a plan is one commit, and a job queued behind another
run of its workspace does not spend its own timeout waiting for the lock."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from app.extensions import db
from app.infra.locks import WorkspaceLock
from app.models import DeploymentStatus, InfraRun, RunStatus
from app.models.common import utcnow
from app.queue import redis_connection
from app.services import infra, runs
from app.services.accounts import create_account
from tests.infra.conftest import fresh, wait_until
from tests.infra.test_serving_state import finish_run, live  # noqa: F401  (a fixture)


def stored(run_id: int) -> InfraRun:
    db.session.expire_all()
    return db.session.get(InfraRun, run_id)


def test_a_log_flush_does_not_commit_the_jobs_unit_of_work(infra_app, live):  # noqa: F811
    run = infra.request_deploy(live)
    log = runs.run_log(run.id, echo=False)
    # The job's unit of work, half done: the run moves, its client with it, not committed.
    run.status = RunStatus.APPLYING
    live.deployment_status = DeploymentStatus.DRAFT
    log("terraform: applying")
    log.flush()
    db.session.rollback()  # the job fails before it commits
    assert stored(run.id).status == RunStatus.QUEUED
    assert fresh(live.id).deployment_status == DeploymentStatus.DEPLOYED
    assert "terraform: applying" in stored(run.id).log  # the log has its own commits


def test_a_flush_while_the_job_holds_its_run_waits_for_the_jobs_commit(
    infra_app,
    live,  # noqa: F811
):
    run = infra.request_deploy(live)
    log = runs.run_log(run.id, echo=False)
    run.status = RunStatus.PLANNING
    db.session.flush()  # the job's open transaction holds the run's row (and SQLite's lock)
    log("planning")
    log.flush()  # neither waits for the job's transaction nor fails: the line is kept
    runs.set_status(run, RunStatus.PLANNING)
    log.close()
    assert stored(run.id).status == RunStatus.PLANNING
    assert "planning" in stored(run.id).log


def test_discarding_an_undeploy_plan_is_one_commit(infra_app, live):  # noqa: F811
    run = infra.request_undeploy(live)
    finish_run(run, RunStatus.AWAITING_APPROVAL, planned_at=utcnow())
    commits: list[object] = []
    session, count = db.session(), commits.append
    event.listen(session, "after_commit", count)
    try:
        infra.discard_run(run.id)
    finally:
        event.remove(session, "after_commit", count)
    assert len(commits) == 1
    assert stored(run.id).status == RunStatus.DISCARDED
    assert fresh(live.id).deployment_status == DeploymentStatus.DEPLOYED


@pytest.mark.workers
def test_a_deploy_queued_behind_a_held_workspace_does_not_spend_its_job_timeout(
    app, make_app, infra_settings, worker_process, make_client
):
    timeout = 60
    settings = {
        **infra_settings,
        "JOB_TIMEOUT_SECONDS": timeout,
        "JOB_MAX_RETRIES": 0,
        "LOCK_RETRY_SECONDS": 2,
    }
    with make_app(**settings).app_context():
        client = make_client(create_account("Patience"), "patient", deployed=False)
        key = runs.client_workspace_key(client.account.account_number, "patient")
        # A long apply of another worker holds the workspace, longer than the job's timeout.
        other = WorkspaceLock(redis_connection(), key, ttl=30).acquire(wait_timeout=1)
        try:
            run = infra.request_deploy(client)
            worker_process(settings)
            time.sleep(timeout + 5)
            waiting = stored(run.id)
            assert waiting.status == RunStatus.QUEUED, waiting.log
            assert f"workspace {key} is busy" in waiting.log
            assert "trying again in 2s" in waiting.log
        finally:
            other.release()
        # Its turn: the job plans with its whole timeout ahead of it.
        run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED}, timeout=300)
        assert run.status == RunStatus.AWAITING_APPROVAL, run.log
        assert run.attempts == 1
