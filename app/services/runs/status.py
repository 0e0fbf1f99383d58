"""A run's status and its client's serving state move together, in one commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from app.config import current_settings
from app.extensions import db
from app.infra.run_log import RunLog
from app.logging_setup import get_logger
from app.models import (
    FINAL_STATUSES,
    DeploymentStatus,
    InfraRun,
    LlmClient,
    ResourceStatus,
    RunKind,
    RunStatus,
    StoredPlan,
)
from app.models.common import utcnow
from app.services import tls

client_log = get_logger("chatdock.clients")


def load_run(run_id: int) -> InfraRun:
    """The run a job carries out; LookupError when it is gone."""
    run = db.session.get(InfraRun, run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    return run


def fail_run(run: InfraRun, message: str, *, discard: bool = False) -> None:
    """The run's job failed: the run is errored with the reason. ``discard`` drops the
    job's uncommitted changes first (a bug left them half done)."""
    if discard:
        db.session.rollback()
    set_status(run, RunStatus.ERRORED, error=message)


def back_to_review(run: InfraRun, reason: str, log: RunLog) -> None:
    """The job lost its workspace lock: another worker may hold it now, so this one
    stops, and the run waits for a new review (its approval no longer stands; an apply
    that had started re-plans when approved). A run another worker (or the reconciler)
    already marked final stays so, and its log says what it is."""
    db.session.rollback()
    db.session.refresh(run)
    error = f"stopped before it finished: {reason}"
    if run.is_final:
        outcome = f"the run stays {run.status.value} ({run.error or run.note or 'final'})"
    elif run.planned_at is None:
        outcome = "the run is errored (it has no plan to review)"
    else:
        outcome = "the run goes back to review"
    log(f"stopped: {reason}; {outcome}")
    log.flush()
    if run.is_final:
        return
    if run.planned_at is None:
        set_status(run, RunStatus.ERRORED, error=error)
    else:
        set_status(
            run, RunStatus.AWAITING_APPROVAL, error=error, approved_at=None, approved_by=None
        )


def set_status(run: InfraRun, status: RunStatus, **fields: Any) -> None:
    """Move the run, and its client with it, in one commit: whoever sees the run's new
    status sees the client's too."""
    run.status = status
    for key, value in fields.items():
        setattr(run, key, value)
    if status in FINAL_STATUSES:
        run.finished_at = utcnow()
        drop_stored_plans(run)
    sync_client_status(run, commit=False)
    db.session.commit()


def last_applied_config(run: InfraRun) -> InfraRun | None:
    """The latest run that changed (or may have changed) this workspace, if it was a
    successful deploy. An apply that errored part-way counts as a change: after it, the
    real infrastructure may match neither configuration, so terraform must run."""
    latest = db.session.execute(
        select(InfraRun)
        .where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.kind != RunKind.PLAN,
            InfraRun.id != run.id,
            (InfraRun.status.in_([RunStatus.APPLIED, RunStatus.DESTROYED]))
            | ((InfraRun.status == RunStatus.ERRORED) & InfraRun.apply_started_at.is_not(None)),
        )
        .order_by(InfraRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return latest if latest is not None and latest.status == RunStatus.APPLIED else None


def drop_stored_plans(run: InfraRun) -> None:
    """A final run's plan can never be applied: it goes (in the caller's transaction)."""
    db.session.execute(delete(StoredPlan).where(StoredPlan.run_id == run.id))


# --- the client's status follows its runs ---------------------------------------------


def client_of(run: InfraRun) -> LlmClient | None:
    return db.session.get(LlmClient, run.client_id) if run.client_id else None


def reread(run: InfraRun) -> InfraRun:
    """The run as the database has it now (a worker moves it while someone waits)."""
    db.session.refresh(run)
    return run


def current_client(run: InfraRun) -> LlmClient | None:
    """The run's client as the database has it now (None once deleted)."""
    client = client_of(run)
    if client is not None:
        db.session.refresh(client)
    return client


def is_latest_run(run: InfraRun) -> bool:
    """No later run of the client exists (a later run decides the client's state)."""
    later = db.session.execute(
        select(InfraRun.id).where(InfraRun.client_id == run.client_id, InfraRun.id > run.id)
    ).first()
    return later is None


def sync_client_status(run: InfraRun, *, commit: bool = True) -> None:
    """Serving follows what was applied, and nothing else.

    An applied deploy serves the hosts it created; a destroy ends serving (which the
    request already stopped); a first deploy that errored or was discarded leaves the
    client a draft. A change of a live client that is pending, errored or discarded
    changes nothing: the client keeps answering on the hosts of its last apply. A failed
    undeploy stays ``undeploying`` (not served: removal fails closed)."""
    client = client_of(run)
    if client is None:
        return
    settings = current_settings()
    before = client.deployment_status
    if run.status == RunStatus.APPLIED and run.kind == RunKind.APPLY:
        client.deployment_status = DeploymentStatus.DEPLOYED
        client.dns_status = ResourceStatus.READY
        client.deployed_at = client.deployed_at or utcnow()
        if run.hosts:
            client.live_hosts = list(run.hosts)
        tls.refresh(client, run.account_number)
    elif run.status == RunStatus.DESTROYED:
        client.deployment_status = DeploymentStatus.DRAFT
        client.dns_status = ResourceStatus.NONE
        client.tls_status, client.tls_detail = ResourceStatus.NONE, ""
        client.deployed_at = None
        client.live_hosts = []
    elif (
        run.status in (RunStatus.ERRORED, RunStatus.DISCARDED)
        and run.kind == RunKind.APPLY
        and client.deployment_status == DeploymentStatus.DEPLOYING
        and is_latest_run(run)
    ):
        client.deployment_status = DeploymentStatus.DRAFT
    if commit:
        db.session.commit()
    if settings.LOG_CLIENTS and client.deployment_status != before:
        client_log.info(
            "client_status",
            client_id=client.id,
            client=client.name,
            account=run.account_number,
            status=client.deployment_status.value,
            previous=before.value,
            run_id=run.id,
        )
