"""What every infrastructure job does around its work: signals, logging, retries.

Retries: RQ retries a job (with the backoff from settings) when it raises. A job here
re-raises only transient failures (terraform's network/throttling/lock errors) while
retries are left; configuration errors and stale plans fail at once with the reason on
the run. A job whose workspace another run holds is not a failure: it is scheduled
again (``LOCK_RETRY_SECONDS``) with its run still queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rq import get_current_job
from rq.timeouts import JobTimeoutException

from app import signals
from app.config import current_settings
from app.infra.run_log import RunLog
from app.infra.terraform import TerraformAborted, TerraformError
from app.logging_setup import get_logger
from app.models import InfraRun, RunStatus
from app.services import runs
from app.services.infra import retry_later
from app.services.runs import (
    RunNotLive,
    StalePlan,
    WorkspaceBusy,
    back_to_review,
    fail_run,
    set_status,
    sync_client_status,
)

log = get_logger("chatdock.jobs")


def _no_more_retries() -> None:
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def _retries_left() -> int:
    job = get_current_job()
    return (job.retries_left or 0) if job is not None else 0


@contextlib.contextmanager
def job_context(job_name: str, run: InfraRun, **signal_kwargs: Any) -> Iterator[RunLog]:
    """Send pre_/post_ signals, log start and result, and turn failures into run state.
    The run's log is written on its own connection and closed (written out) last, once
    every change of the job is committed."""
    run_log = runs.run_log(run.id, echo=current_settings().LOG_JOBS)
    try:
        with _outcomes(job_name, run, run_log, signal_kwargs):
            yield run_log
    finally:
        run_log.close()


@contextlib.contextmanager
def _outcomes(
    job_name: str, run: InfraRun, run_log: RunLog, signal_kwargs: dict[str, Any]
) -> Iterator[None]:
    """pre_ before the work, post_ after it on every path (done, failed, skipped,
    deferred, stopped), once the run's state says how it ended."""
    if current_settings().LOG_JOBS:
        log.info("job_started", job=job_name, run_id=run.id)
    run_log(f"{job_name}: started")
    signals.pre(job_name).send(job_name, run=run, **signal_kwargs)
    try:
        with _run_state(job_name, run, run_log):
            yield
    finally:
        signals.post(job_name).send(job_name, run=run, **signal_kwargs)


@contextlib.contextmanager
def _run_state(job_name: str, run: InfraRun, run_log: RunLog) -> Iterator[None]:
    """Turn the work's outcome into the run's state, its log and RQ's retries."""
    settings = current_settings()
    try:
        yield
    except RunNotLive as reason:
        run_log(f"nothing to do: {reason}")
        run_log.flush()
        _no_more_retries()
        if settings.LOG_JOBS:
            log.info("job_skipped", job=job_name, run_id=run.id, reason=str(reason))
        return
    except WorkspaceBusy as busy:
        run_log(f"{busy}: trying again in {busy.retry_in:g}s (the run stays queued)")
        run_log.flush()
        _no_more_retries()
        retry_later(run, busy.retry_in)
        if settings.LOG_JOBS:
            log.info("job_deferred", job=job_name, run_id=run.id, reason=str(busy))
        return
    except TerraformAborted as error:
        _no_more_retries()
        back_to_review(run, error.reason, run_log)
        return
    except TerraformError as error:
        transient = error.transient
        run_log(f"failed: {error}")
        if transient and _retries_left() > 0:
            run_log(f"transient failure: retrying ({_retries_left()} retries left)")
            run_log.flush()
            set_status(run, RunStatus.QUEUED, error=str(error))
            raise
        run_log.flush()
        _no_more_retries()
        _errored(run, str(error), job_name)
        raise
    except StalePlan as error:
        run_log(f"refused: the plan is stale: {error}")
        run_log.flush()
        _no_more_retries()
        set_status(run, RunStatus.DISCARDED, error=f"stale plan: {error}")
        return
    except JobTimeoutException:
        run_log("the job timed out; terraform was stopped")
        run_log.flush()
        _no_more_retries()
        _errored(run, "the job timed out", job_name)
        raise
    except Exception as error:
        run_log(f"unexpected error: {type(error).__name__}: {error}")
        run_log.flush()
        _no_more_retries()
        _errored(run, f"{type(error).__name__}: {error}", job_name, discard=True)
        raise
    run_log.flush()
    sync_client_status(run)
    if settings.LOG_JOBS:
        log.info("job_finished", job=job_name, run_id=run.id, status=run.status.value)


def _errored(run: InfraRun, message: str, job_name: str, *, discard: bool = False) -> None:
    fail_run(run, message, discard=discard)
    if current_settings().LOG_JOBS:
        log.warning("job_errored", job=job_name, run_id=run.id, error=message)
