"""What every infrastructure job does around its work: signals, logging, retries.

Retries: RQ retries a job (with the backoff from settings) when it raises. A job here
re-raises only transient failures (terraform's network/throttling/lock errors, a lock
wait that timed out) while retries are left; configuration errors and stale plans fail
at once with the reason on the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rq import get_current_job
from rq.timeouts import JobTimeoutException

from app import signals
from app.config import current_settings
from app.extensions import db
from app.infra.locks import LockTimeout
from app.infra.run_log import RunLog
from app.infra.terraform import TerraformAborted, TerraformError
from app.logging_setup import get_logger
from app.models import InfraRun, RunStatus
from app.services import runs
from app.services.runs import RunNotLive, StalePlan, set_status, sync_client_status

log = get_logger("chatdock.jobs")


def load_run(run_id: int) -> InfraRun:
    run = db.session.get(InfraRun, run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    return run


def _no_more_retries() -> None:
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def _retries_left() -> int:
    job = get_current_job()
    return (job.retries_left or 0) if job is not None else 0


@contextlib.contextmanager
def job_context(job_name: str, run: InfraRun, **signal_kwargs: Any) -> Iterator[RunLog]:
    """Send pre_/post_ signals, log start and result, and turn failures into run state."""
    settings = current_settings()
    run_log = runs.run_log(run.id, echo=settings.LOG_JOBS)
    if settings.LOG_JOBS:
        log.info("job_started", job=job_name, run_id=run.id)
    run_log(f"{job_name}: started")
    signals.pre(job_name).send(job_name, run=run, **signal_kwargs)
    try:
        yield run_log
    except RunNotLive as reason:
        run_log(f"nothing to do: {reason}")
        run_log.flush()
        _no_more_retries()
        if settings.LOG_JOBS:
            log.info("job_skipped", job=job_name, run_id=run.id, reason=str(reason))
        return
    except TerraformAborted as error:
        run_log(f"stopped: {error.reason}; the run goes back to review")
        run_log.flush()
        _no_more_retries()
        _back_to_review(run, f"stopped before it finished: {error.reason}")
        signals.post(job_name).send(job_name, run=run, **signal_kwargs)
        return
    except (TerraformError, LockTimeout) as error:
        transient = isinstance(error, LockTimeout) or error.transient
        run_log(f"failed: {error}")
        run_log.flush()
        if transient and _retries_left() > 0:
            run_log(f"transient failure: retrying ({_retries_left()} retries left)")
            run_log.flush()
            set_status(run, RunStatus.QUEUED, error=str(error))
            raise
        _no_more_retries()
        _errored(run, str(error), job_name)
        raise
    except StalePlan as error:
        run_log(f"refused: the plan is stale: {error}")
        run_log.flush()
        _no_more_retries()
        set_status(run, RunStatus.DISCARDED, error=f"stale plan: {error}")
        sync_client_status(run)
        signals.post(job_name).send(job_name, run=run, **signal_kwargs)
        return
    except JobTimeoutException:
        run_log("the job timed out; terraform was stopped")
        run_log.flush()
        _no_more_retries()
        _errored(run, "the job timed out", job_name)
        raise
    except Exception as error:
        db.session.rollback()
        run_log(f"unexpected error: {type(error).__name__}: {error}")
        run_log.flush()
        _no_more_retries()
        _errored(run, f"{type(error).__name__}: {error}", job_name)
        raise
    run_log.flush()
    sync_client_status(run)
    if settings.LOG_JOBS:
        log.info("job_finished", job=job_name, run_id=run.id, status=run.status.value)
    signals.post(job_name).send(job_name, run=run, **signal_kwargs)


def _back_to_review(run: InfraRun, reason: str) -> None:
    """The job lost its workspace lock: another worker may hold it now, so this one
    stops, and the run waits for a new review (its approval no longer stands; an apply
    that had started re-plans when approved). A run another worker already marked
    final stays so."""
    db.session.rollback()
    db.session.refresh(run)
    if run.is_final:
        return
    if run.planned_at is None:
        set_status(run, RunStatus.ERRORED, error=reason)
    else:
        set_status(
            run, RunStatus.AWAITING_APPROVAL, error=reason, approved_at=None, approved_by=None
        )
    sync_client_status(run)


def _errored(run: InfraRun, message: str, job_name: str) -> None:
    set_status(run, RunStatus.ERRORED, error=message)
    sync_client_status(run)
    if current_settings().LOG_JOBS:
        log.warning("job_errored", job=job_name, run_id=run.id, error=message)
    signals.post(job_name).send(job_name, run=run)
