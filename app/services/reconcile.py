"""Bring Redis back in line with the database, which says what must happen.

Redis only holds the jobs that carry the database's intentions out, so when the two
disagree (Redis was down when a run was requested, was flushed or restarted, a worker
was SIGKILLed) a sweep puts things right:

- a run queued without a live job gets its job again (``run.job_name``/``job_args``);
- a run in progress was abandoned by a dead worker, and is marked errored (what its
  client serves does not change; its log says "errored: the worker died"), when its
  workspace lock's holder was a process of this host that is gone (a SIGKILLed worker:
  found at the next sweep, and the lock is freed), or when nobody holds the lock, still
  so a lock lifetime (``LOCK_TTL_SECONDS``) after a sweep first saw it (a worker on
  another host: its lock expires first, then that lifetime);
- a domain check whose time (``next_check_at``) passed with no job for it is enqueued;
- every ``TLS_CHECK_MINUTES`` (whichever worker sweeps first), the certificates covering
  the deployed clients are read again and their ``tls_status`` updated (``app.services.tls``).

Every worker sweeps when it starts and then every ``RECONCILE_SECONDS`` (one at a time,
under a Redis lock), and
``flask infra reconcile`` sweeps once. Sweeping twice is harmless: a job acts only for a
run that is still queued for it (``runs.ensure_live``), and a domain check only when
its time is still the domain's next check.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.infra.locks import holder_is_dead, lock_name, release_if_held_by
from app.logging_setup import get_logger
from app.models import CustomDomain, DomainStatus, InfraRun, RunStatus
from app.models.common import utcnow
from app.queue import job_queue, redis_connection
from app.services import runs, tls
from app.services.domain_checks import check_job_id, enqueue_check
from app.services.infra import enqueue_run

log = get_logger("chatdock.reconcile")

SWEEP_LOCK = "chatdock:lock:reconcile"
SUSPECT_PREFIX = "chatdock:reconcile:lockless-run:"
# A request enqueues right after it commits: leave it that long before stepping in.
GRACE = timedelta(seconds=10)
LIVE_JOB_STATES = frozenset(
    {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
)
IN_PROGRESS = (RunStatus.PLANNING, RunStatus.APPLYING, RunStatus.DESTROYING)


@dataclass
class SweepReport:
    """What one sweep did (run ids, domain names), for the CLI and the logs."""

    requeued: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    skipped: bool = False  # another process was sweeping
    tls_changed: int | None = None  # clients whose tls_status changed (None: not checked)

    def lines(self) -> list[str]:
        if self.skipped:
            return ["another worker is reconciling right now"]
        return [
            f"runs enqueued again: {', '.join(map(str, self.requeued)) or 'none'}",
            f"runs abandoned by a dead worker, marked errored: "
            f"{', '.join(map(str, self.abandoned)) or 'none'}",
            f"domain checks re-armed: {', '.join(self.checks) or 'none'}",
            "certificates: "
            + (
                "not due (TLS_CHECK_MINUTES)"
                if self.tls_changed is None
                else f"checked, {self.tls_changed} client(s) changed tls status"
            ),
        ]


def sweep() -> SweepReport:
    """One reconciliation pass (raises RedisError while Redis is unreachable)."""
    redis = redis_connection()
    lock = redis.lock(SWEEP_LOCK, timeout=120)
    if not lock.acquire(blocking=False):
        return SweepReport(skipped=True)
    try:
        report = SweepReport()
        _requeue_orphaned_runs(report)
        _fail_abandoned_runs(report)
        _rearm_domain_checks(report)
        report.tls_changed = tls.watch_if_due(redis)
    finally:
        db.session.rollback()
        with contextlib.suppress(RedisError):  # else it expires by itself
            lock.release()
    if report.requeued or report.abandoned or report.checks:
        log.info(
            "reconciled",
            requeued=report.requeued,
            abandoned=report.abandoned,
            domain_checks=report.checks,
        )
    return report


def _job_alive(job_id: str | None) -> bool:
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in LIVE_JOB_STATES


def _requeue_orphaned_runs(report: SweepReport) -> None:
    cutoff = utcnow() - GRACE
    queued = db.session.execute(
        select(InfraRun).where(InfraRun.status == RunStatus.QUEUED, InfraRun.job_name.is_not(None))
    ).scalars()
    queue = job_queue()
    for run in list(queued):
        requested_at = max(t for t in (run.created_at, run.approved_at) if t is not None)
        if requested_at > cutoff or _job_alive(run.rq_job_id):
            continue
        enqueue_run(queue, run)
        if run.rq_job_id is not None:
            report.requeued.append(run.id)


def _fail_abandoned_runs(report: SweepReport) -> None:
    redis = redis_connection()
    in_progress = db.session.execute(
        select(InfraRun).where(InfraRun.status.in_(IN_PROGRESS))
    ).scalars()
    grace = max(current_settings().LOCK_TTL_SECONDS, 5)
    for run in list(in_progress):
        suspect = f"{SUSPECT_PREFIX}{run.id}"
        # redis-py types a synchronous reply as "Awaitable | Any"; GET gives bytes or None.
        holder = cast("bytes | None", redis.get(lock_name(run.workspace_key)))
        if holder is not None and not holder_is_dead(holder):
            redis.delete(suspect)
            continue  # its worker is alive (or on another host) and holds the workspace
        if holder is not None:  # its worker was a process of this host, and is gone
            release_if_held_by(redis, run.workspace_key, holder)
            how = "its process is gone; its workspace lock was freed"
        else:
            how = "its workspace lock expired and nobody took it for a lock lifetime"
        # A job commits its run's final status before releasing the lock: read it again.
        db.session.refresh(run)
        if run.status not in IN_PROGRESS:
            continue
        if holder is None:
            # A live job that lost its lock stops terraform and sends its run back to
            # review within a heartbeat: only a run still lock-less a lock lifetime later
            # is dead.
            first_seen = cast("bytes | None", redis.get(suspect))
            if first_seen is None:
                redis.set(suspect, time.time(), ex=int(grace * 10))
                continue
            if time.time() - float(first_seen) < grace:
                continue
        redis.delete(suspect)
        runs.mark_abandoned(run, how)
        report.abandoned.append(run.id)


def _rearm_domain_checks(report: SweepReport) -> None:
    due = db.session.execute(
        select(CustomDomain).where(
            CustomDomain.next_check_at.is_not(None),
            CustomDomain.next_check_at <= utcnow() - GRACE,
            CustomDomain.status != DomainStatus.DELETING,
        )
    ).scalars()
    for domain in list(due):
        assert domain.next_check_at is not None
        if _job_alive(check_job_id(domain.id, domain.next_check_at)):
            continue
        enqueue_check(domain.id, domain.next_check_at)
        report.checks.append(domain.domain)


AppContext = Callable[[], AbstractContextManager[object]]


class Reconciler(threading.Thread):
    """Sweeps every ``interval`` seconds beside a worker, each sweep inside a new
    ``app_context()`` of the worker's app (a thread has none of its own; a Redis outage
    is logged and the next sweep tries again)."""

    def __init__(self, app_context: AppContext, interval: float) -> None:
        super().__init__(name="chatdock-reconciler", daemon=True)
        self.app_context = app_context
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        """A first sweep at once (a worker restarted after a crash finds what the dead
        one left), then one every ``interval``."""
        while True:
            self._sweep()
            if self.stopped.wait(self.interval):
                return

    def _sweep(self) -> None:
        with self.app_context():
            try:
                sweep()
            except RedisError as error:
                log.warning("reconcile_failed", error=f"{type(error).__name__}: {error}")
            except Exception:
                log.exception("reconcile_failed")
            finally:
                db.session.remove()

    def stop(self) -> None:
        self.stopped.set()


def start_reconciler(app_context: AppContext, interval: float) -> Reconciler | None:
    """Start the periodic sweep of this worker (None when ``interval``, the setting
    RECONCILE_SECONDS, is 0)."""
    if interval <= 0:
        return None
    reconciler = Reconciler(app_context, interval)
    reconciler.start()
    return reconciler
