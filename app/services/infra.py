"""Asking for infrastructure changes: create the run, enqueue its job, review plans."""

from __future__ import annotations

from rq import Queue
from sqlalchemy import select

from app.config import current_settings
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.infra import pipeline
from app.logging_setup import get_logger
from app.models import DeploymentStatus, InfraRun, LlmClient, RunKind, RunStatus
from app.models.common import utcnow
from app.queue import job_queue, retry_policy

log = get_logger("chatdock.clients")


def enqueue_run(queue: Queue, run: InfraRun, func: str, *args) -> InfraRun:
    settings = current_settings()
    job = queue.enqueue(
        func,
        *args,
        job_id=f"run-{run.id}-{run.attempts}-{utcnow().timestamp():.0f}",
        retry=retry_policy(settings),
        job_timeout=settings.JOB_TIMEOUT_SECONDS,
        description=f"{func.rsplit('.', 1)[1]} run {run.id} ({run.workspace_key})",
    )
    run.rq_job_id = job.id
    db.session.commit()
    if settings.LOG_CLIENTS:
        log.info(
            "infra_run_requested",
            run_id=run.id,
            kind=run.kind.value,
            workspace=run.workspace_key,
            requested_by=run.requested_by,
        )
    return run


def _new_run(client: LlmClient, kind: RunKind, **fields) -> InfraRun:
    number = client.account.account_number
    run = InfraRun(
        workspace_key=pipeline.client_workspace_key(number, client.name),
        kind=kind,
        client_id=client.id,
        account_number=number,
        target_name=client.name,
        **fields,
    )
    db.session.add(run)
    return run


def request_deploy(
    client: LlmClient,
    *,
    auto_approve: bool = False,
    drift_check: bool = False,
    requested_by: str = "cli",
) -> InfraRun:
    """Plan (and, when approved, apply) the client's infrastructure in a job."""
    queue = job_queue()  # first: fails before any change when Redis is not configured
    run = _new_run(
        client,
        RunKind.APPLY,
        auto_approve=auto_approve,
        drift_check=drift_check,
        requested_by=requested_by,
    )
    if client.deployment_status != DeploymentStatus.DEPLOYED:
        client.deployment_status = DeploymentStatus.DEPLOYING
    db.session.commit()
    return enqueue_run(queue, run, "jobs.deploy.deploy_default_api", client.id, run.id)


def request_undeploy(
    client: LlmClient, *, auto_approve: bool = False, requested_by: str = "cli"
) -> InfraRun:
    """Destroy the client's infrastructure and stop serving it; the client stays."""
    queue = job_queue()
    run = _new_run(client, RunKind.DESTROY, auto_approve=auto_approve, requested_by=requested_by)
    client.deployment_status = DeploymentStatus.UNDEPLOYING
    db.session.commit()
    return enqueue_run(queue, run, "jobs.undeploy.undeploy_default_api", client.id, run.id)


def request_delete(client: LlmClient, *, requested_by: str = "cli") -> InfraRun:
    """Delete the client now; its infrastructure is destroyed by a job from its URL."""
    queue = job_queue()
    name, number = client.name, client.account.account_number
    api_url = pipeline.client_api_url(client)
    run = _new_run(client, RunKind.DESTROY, auto_approve=True, requested_by=requested_by)
    run.client_id = None
    run.note = f"delete of client {name} ({api_url})"
    db.session.delete(client)
    db.session.commit()
    return enqueue_run(queue, run, "jobs.delete.delete_default_api", name, number, api_url, run.id)


def get_run(run_id: int) -> InfraRun:
    run = db.session.get(InfraRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def list_runs(account_number: str | None = None, client_name: str | None = None) -> list[InfraRun]:
    if client_name and not account_number:
        raise InvalidInput("--client needs --account")
    query = select(InfraRun).order_by(InfraRun.id.desc()).limit(200)
    if account_number:
        query = query.where(InfraRun.account_number == account_number)
    if client_name:
        query = query.where(InfraRun.target_name == client_name)
    return list(db.session.execute(query).scalars())


def approve_run(run_id: int, approved_by: str = "cli") -> InfraRun:
    """Apply exactly the reviewed plan; a stale plan is refused and a new plan offered."""
    run = get_run(run_id)
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise Conflict(f"run {run.id} is {run.status.value}, not awaiting approval")
    workspace = pipeline.render_for_run(run, dry_run=True)
    try:
        pipeline.check_not_stale(run, workspace)
    except pipeline.StalePlan as stale:
        pipeline.set_status(run, RunStatus.DISCARDED, error=f"stale plan: {stale}")
        pipeline.sync_client_status(run)
        replan = (
            f"flask domains add {run.target_name} --account {run.account_number}"
            if pipeline.is_domain_run(run)
            else f"flask clients deploy {run.target_name} --account {run.account_number}"
        )
        raise Conflict(
            f"run {run.id}'s plan is stale ({stale}); it was discarded. Plan again: {replan}",
            code="stale_plan",
        ) from None
    queue = job_queue()
    run.approved_by = approved_by
    run.approved_at = utcnow()
    run.status = RunStatus.QUEUED
    db.session.commit()
    return enqueue_run(queue, run, "jobs.deploy.apply_run", run.id)


def discard_run(run_id: int) -> InfraRun:
    run = get_run(run_id)
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise Conflict(f"run {run.id} is {run.status.value}; only a plan awaiting approval")
    pipeline.set_status(run, RunStatus.DISCARDED, note="discarded by an operator")
    pipeline.sync_client_status(run)
    return run
