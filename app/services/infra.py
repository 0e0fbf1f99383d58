"""Asking for infrastructure changes: create the run, enqueue its job, review plans."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Select, select

from app.config import current_settings
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.logging_setup import get_logger
from app.models import DeploymentStatus, InfraRun, LlmClient, RunKind, RunStatus
from app.models.common import utcnow
from app.queue import JOBS, job_queue, reachable_queue, retry_policy
from app.services import audit, routing, runs

log = get_logger("chatdock.clients")


def enqueue_run(queue: Queue, run: InfraRun, *, delay: float = 0) -> InfraRun:
    """Hand the run's job (``run.job_name``, ``run.job_args``) to RQ (``delay``: to its
    scheduler, to run that many seconds from now).

    The job id is recorded first, so a worker that picks the job up at once finds the
    run carried by it. Should Redis fail right after the run was recorded, the run stays
    queued without a job and the reconciler enqueues it once Redis is back: the request
    is never lost, and never half-done."""
    settings = current_settings()
    run.rq_job_id = f"run-{run.id}-{uuid.uuid4().hex[:12]}"
    db.session.commit()
    options: dict[str, Any] = {
        "job_id": run.rq_job_id,
        "retry": retry_policy(settings),
        "job_timeout": settings.JOB_TIMEOUT_SECONDS,
        "description": f"{run.job_name} run {run.id} ({run.workspace_key})",
    }
    try:
        if delay > 0:
            queue.enqueue_in(
                timedelta(seconds=delay), JOBS[run.job_name or ""], *run.job_args, **options
            )
        else:
            queue.enqueue(JOBS[run.job_name or ""], *run.job_args, **options)
    except RedisError as error:
        run.rq_job_id = None
        db.session.commit()
        log.warning("infra_run_not_enqueued", run_id=run.id, error=type(error).__name__)
        return run
    if settings.LOG_CLIENTS:
        log.info(
            "infra_run_requested",
            run_id=run.id,
            kind=run.kind.value,
            workspace=run.workspace_key,
            requested_by=run.requested_by,
        )
    return run


def retry_later(run: InfraRun, delay: float) -> None:
    """The run's job found its workspace busy: the run stays queued and a new job of it
    is scheduled ``delay`` seconds from now (unless the run moved on meanwhile)."""
    db.session.rollback()
    db.session.refresh(run)
    current = runs.current_job_id()
    if run.status != RunStatus.QUEUED or (current is not None and run.rq_job_id != current):
        return
    enqueue_run(job_queue(), run, delay=delay)


def new_client_run(client: LlmClient, kind: RunKind, job_name: str, **fields: Any) -> InfraRun:
    """A run of the client's workspace, carried out by job ``job_name`` (not committed)."""
    number = client.account.account_number
    run = InfraRun(
        workspace_key=runs.client_workspace_key(number, client.name),
        kind=kind,
        client_id=client.id,
        account_id=client.account_id,
        account_number=number,
        target_name=client.name,
        job_name=job_name,
        **fields,
    )
    db.session.add(run)
    db.session.flush()
    return run


def request_deploy(
    client: LlmClient,
    *,
    auto_approve: bool = False,
    drift_check: bool = False,
    requested_by: str = "cli",
) -> InfraRun:
    """Plan (and, when approved, apply) the client's infrastructure in a job. A live
    client keeps being served on its current hosts until the new plan is applied."""
    queue = reachable_queue()  # first: an unreachable Redis refuses with nothing changed
    run = new_client_run(
        client,
        RunKind.APPLY,
        "deploy",
        auto_approve=auto_approve,
        drift_check=drift_check,
        requested_by=requested_by,
    )
    run.job_args = [client.id, run.id]
    if client.deployment_status != DeploymentStatus.DEPLOYED:
        client.deployment_status = DeploymentStatus.DEPLOYING
    _audit_request("deploy", client, run)
    # The account's shared routing first, in its own workspace (if it is not as it
    # should be): the client's run changes only the client's objects.
    shared = routing.routing_apply(
        client.account.account_number, auto_approve=auto_approve, requested_by=requested_by
    )
    db.session.commit()
    if shared is not None:
        enqueue_run(queue, shared)
    return enqueue_run(queue, run)


def request_routing(account_number: str, *, requested_by: str) -> InfraRun | None:
    """Bring the account's routing up to date when its clients are served (e.g. a custom
    domain is deleted: its listener and certificate go); None when nothing is to do."""
    if not routing.is_live(account_number):
        return None
    queue = reachable_queue()
    run = routing.routing_apply(account_number, requested_by=requested_by)
    db.session.commit()
    return enqueue_run(queue, run) if run is not None else None


def release_routing(run: InfraRun) -> InfraRun | None:
    """After the destroy of a client (``run``) is done: destroy the account's routing if
    that was its last served client, reviewed like the client's destroy was."""
    if run.status != RunStatus.DESTROYED or runs.is_domain_run(run) or runs.is_routing_run(run):
        return None
    shared = routing.routing_destroy(
        run.account_number,
        auto_approve=run.auto_approve,
        requested_by=f"destroy of client {run.target_name} (run {run.id})",
    )
    db.session.commit()
    return enqueue_run(job_queue(), shared) if shared is not None else None


def request_undeploy(
    client: LlmClient, *, auto_approve: bool = False, requested_by: str = "cli"
) -> InfraRun:
    """Stop serving the client at once, then destroy its infrastructure; it stays."""
    queue = reachable_queue()
    run = new_client_run(
        client, RunKind.DESTROY, "undeploy", auto_approve=auto_approve, requested_by=requested_by
    )
    run.job_args = [client.id, run.id]
    client.deployment_status = DeploymentStatus.UNDEPLOYING
    _audit_request("undeploy", client, run)
    db.session.commit()
    return enqueue_run(queue, run)


def request_delete(client: LlmClient, *, requested_by: str = "cli") -> InfraRun:
    """Delete the client now; its infrastructure is destroyed by a job from its URL."""
    queue = reachable_queue()
    name, number = client.name, client.account.account_number
    api_url = runs.client_api_url(client)
    run = new_client_run(
        client, RunKind.DESTROY, "delete", auto_approve=True, requested_by=requested_by
    )
    run.client_id = None
    run.note = f"delete of client {name} ({api_url})"
    run.job_args = [name, number, api_url, run.id]
    _audit_request("delete", client, run)
    db.session.delete(client)
    db.session.commit()
    return enqueue_run(queue, run)


def _audit_request(action: str, client: LlmClient, run: InfraRun) -> None:
    audit.record(
        action,
        "client",
        client.id,
        account_id=client.account_id,
        changes={"run": (None, run.id), "auto_approve": (None, run.auto_approve)},
    )


def get_run(run_id: int) -> InfraRun:
    run = db.session.get(InfraRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def runs_query(
    account_number: str | None = None,
    client_name: str | None = None,
    status: RunStatus | None = None,
    account_ids: Select[int] | None = None,
) -> Select[InfraRun]:
    """The runs (of an account, of one of its clients, in ``status``, of the accounts
    ``account_ids``: a query of ids), newest first."""
    if client_name and not account_number:
        raise InvalidInput("--client needs --account")
    query = select(InfraRun).order_by(InfraRun.id.desc())
    if account_ids is not None:
        query = query.where(InfraRun.account_id.in_(account_ids))
    if account_number:
        query = query.where(InfraRun.account_number == account_number)
    if client_name:
        query = query.where(InfraRun.target_name == client_name)
    if status is not None:
        query = query.where(InfraRun.status == status)
    return query


def list_runs(
    account_number: str | None = None,
    client_name: str | None = None,
    status: RunStatus | None = None,
    account_ids: Select[int] | None = None,
) -> list[InfraRun]:
    """The latest 200 runs (see :func:`runs_query`)."""
    query = runs_query(account_number, client_name, status, account_ids).limit(200)
    return list(db.session.execute(query).scalars())


def runs_of_client(client: LlmClient) -> list[InfraRun]:
    """Every run of the client, newest first."""
    return list(
        db.session.execute(
            select(InfraRun).where(InfraRun.client_id == client.id).order_by(InfraRun.id.desc())
        ).scalars()
    )


def approve_run(run_id: int, approved_by: str = "cli") -> InfraRun:
    """Apply exactly the reviewed plan; a stale plan is refused and a new plan offered."""
    run = get_run(run_id)
    if is_planning(run):
        raise Conflict(
            f"run {run.id} is still {run.status.value}: there is no plan to approve yet "
            f"(`flask infra approve {run.id} --wait` waits for the plan, then approves it)",
            code="still_planning",
        )
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise Conflict(f"run {run.id} is {run.status.value}, not awaiting approval")
    workspace = runs.render_for_run(run, dry_run=True)
    try:
        runs.check_not_stale(run, workspace)
    except runs.StalePlan as stale:
        runs.set_status(run, RunStatus.DISCARDED, error=f"stale plan: {stale}")
        runs.sync_client_status(run)
        if runs.is_domain_run(run):
            replan = f"flask domains add {run.target_name} --account {run.account_number}"
        elif runs.is_routing_run(run):  # asked for with a deploy of any of its clients
            replan = f"flask clients deploy NAME --account {run.account_number}"
        else:
            replan = f"flask clients deploy {run.target_name} --account {run.account_number}"
        raise Conflict(
            f"run {run.id}'s plan is stale ({stale}); it was discarded. Plan again: {replan}",
            code="stale_plan",
        ) from None
    queue = reachable_queue()
    run.approved_by = approved_by
    run.approved_at = utcnow()
    run.status = RunStatus.QUEUED
    run.job_name, run.job_args = "apply", [run.id]
    audit.record(
        "approve",
        "run",
        run.id,
        account_id=run.account_id,
        changes={"status": (RunStatus.AWAITING_APPROVAL, run.status)},
    )
    db.session.commit()
    return enqueue_run(queue, run)


def is_planning(run: InfraRun) -> bool:
    """Queued or planning, and not yet approved: its plan is still to come."""
    return run.approved_at is None and run.status in (RunStatus.QUEUED, RunStatus.PLANNING)


def discard_run(run_id: int) -> InfraRun:
    """Drop a plan awaiting review: the infrastructure and what is served stay as the
    last apply left them. Discarding an undeploy's plan serves the client again (the
    operator called the undeploy off; its infrastructure was never touched). The run,
    its client and the audit event commit together, once."""
    run = get_run(run_id)
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise Conflict(f"run {run.id} is {run.status.value}; only a plan awaiting approval")
    audit.record(
        "discard",
        "run",
        run.id,
        account_id=run.account_id,
        changes={"status": (RunStatus.AWAITING_APPROVAL, RunStatus.DISCARDED)},
    )
    client = runs.client_of(run)
    if (
        client is not None
        and run.kind == RunKind.DESTROY
        and run.apply_started_at is None
        and client.deployment_status == DeploymentStatus.UNDEPLOYING
        and client.deployed_at is not None
        and runs.is_latest_run(run)
    ):
        client.deployment_status = DeploymentStatus.DEPLOYED
    runs.set_status(run, RunStatus.DISCARDED, note="discarded by an operator")
    return run
