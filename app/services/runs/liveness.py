"""One live run per workspace: the workspace lock, and the checks that let a job work
only on its own, still-queued, not-superseded run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.infra.locks import LockTimeout, WorkspaceLock
from app.infra.run_log import RunLog
from app.models import (
    ACTIVE_STATUSES,
    InfraRun,
    RunKind,
    RunStatus,
)
from app.queue import redis_connection
from app.services.runs.log import run_log as log_of_run
from app.services.runs.status import set_status
from app.services.runs.workspace import _current_lock

# How long a job waits for a workspace lock before it gives its worker back (the run
# stays queued and its job is scheduled again, LOCK_RETRY_SECONDS later).
LOCK_GRAB_SECONDS = 2.0


class WorkspaceBusy(Exception):
    """Another run holds the workspace: the job does not wait (its RQ timeout would run
    out while it waits, and kill it mid-terraform later); it is tried again later."""

    def __init__(self, workspace_key: str, retry_in: float) -> None:
        super().__init__(f"workspace {workspace_key} is busy (another run holds its lock)")
        self.retry_in = retry_in


class RunNotLive(Exception):
    """The job's run is final, superseded by a later run, or carried by another job:
    the job does nothing (an abandoned job that RQ runs again must not revert later
    work)."""


@contextlib.contextmanager
def locked_workspace(run: InfraRun, log: RunLog, *, approved: bool = False) -> Iterator[None]:
    """Hold the workspace's lock, and go on only while ``run`` is still the live run of
    its workspace (see ``ensure_live``). A lock another run holds raises WorkspaceBusy
    after LOCK_GRAB_SECONDS: the job is scheduled again instead of waiting, so the job's
    timeout (``JOB_TIMEOUT_SECONDS``) counts from when it holds the lock.

    ``approved``: the job applies an approved plan (``apply_run``)."""
    settings = current_settings()
    lock = WorkspaceLock(
        redis_connection(settings), run.workspace_key, ttl=settings.LOCK_TTL_SECONDS
    )
    log(f"taking the lock of {run.workspace_key}")
    try:
        lock.acquire(wait_timeout=LOCK_GRAB_SECONDS)
    except LockTimeout:
        raise WorkspaceBusy(run.workspace_key, settings.LOCK_RETRY_SECONDS) from None
    token = _current_lock.set(lock)
    try:
        log("lock acquired")
        _fail_abandoned_runs(run, log)
        ensure_live(run, log, approved=approved)
        yield
    finally:
        _current_lock.reset(token)
        lock.release()


def ensure_live(run: InfraRun, log: RunLog, *, approved: bool = False) -> None:
    """Raise RunNotLive unless this job may work on ``run``: the run is queued (a run
    found in progress under our lock was abandoned by a dead worker), approved when the
    job applies, carried by this very job, and no later run of its workspace exists (a
    later request supersedes it: the run is discarded)."""
    db.session.refresh(run)
    current = current_job_id()
    if current is not None and run.rq_job_id not in (None, current):
        raise RunNotLive(f"run {run.id} is carried by job {run.rq_job_id}, not {current}")
    if run.is_final:
        raise RunNotLive(f"run {run.id} is already {run.status.value}")
    if run.status in ACTIVE_STATUSES - {RunStatus.QUEUED}:
        log(f"run {run.id} was left {run.status.value} by a worker that died: marked errored")
        mark_abandoned(run, "its job found it in progress under a lock nobody else held")
        raise RunNotLive(f"run {run.id} was abandoned by its worker")
    if run.status != RunStatus.QUEUED or (approved and run.approved_at is None):
        raise RunNotLive(f"run {run.id} is {run.status.value}, not queued for this job")
    later = db.session.execute(
        select(InfraRun.id)
        .where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id > run.id,
            InfraRun.kind != RunKind.PLAN,
        )
        .order_by(InfraRun.id)
        .limit(1)
    ).scalar_one_or_none()
    if later is not None:
        set_status(run, RunStatus.DISCARDED, error=f"superseded by run {later}")
        raise RunNotLive(f"run {run.id} is superseded by run {later}")
    run.attempts += 1
    db.session.commit()
    log(f"attempt {run.attempts} of run {run.id}")


def current_job_id() -> str | None:
    """The RQ job this process works on, if any."""
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


ABANDONED = "the worker running this run died (its process is gone or its lock expired)"


def mark_abandoned(run: InfraRun, how: str) -> None:
    """``run`` was left in progress by a worker that died: errored (its client follows,
    in the same commit), and its own log says so, with how that was found out."""
    run_log = log_of_run(run.id, echo=False)
    run_log(f"errored: the worker died ({how})")
    run_log.flush()
    set_status(run, RunStatus.ERRORED, error=ABANDONED)
    run_log.close()


def _fail_abandoned_runs(run: InfraRun, log: RunLog) -> None:
    """Runs left 'in progress' by a worker that died: we hold the lock, so nobody runs them."""
    abandoned = db.session.execute(
        select(InfraRun).where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id != run.id,
            InfraRun.status.in_(ACTIVE_STATUSES - {RunStatus.QUEUED}),
        )
    ).scalars()
    for other in list(abandoned):
        log(f"marked run {other.id} errored: its worker died")
        mark_abandoned(other, f"run {run.id} found it in progress under a lock nobody held")
