"""The RQ worker of ``flask worker``: it survives Redis outages, and its scheduler lives
and dies with it.

RQ's own ``work(with_scheduler=True)`` forks the scheduler into a child process: a
SIGKILLed worker leaves that child running, re-parented to PID 1 and holding the
scheduler lock, and the next worker retries the lock only every ten minutes. Here the
scheduler is a thread of the worker's process (killed with it), every tick tries to
take the lock, and a lock whose holder was a process of this host that is gone is
taken over at once (other hosts' locks expire after RQ's TTL, ~1 minute).

RQ's work loop quits on any Redis error (a job that finishes while Redis is down, a
timeout): ``run_worker`` then waits for Redis with backoff, says so once, and starts a
new worker, until a stop is asked for.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import FrameType
from typing import cast

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import SchedulerNotFound
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from app.extensions import db
from app.infra.locks import process_alive
from app.logging_setup import get_logger

log = get_logger("chatdock.worker")
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RECONNECT_BACKOFF_SECONDS = (1, 2, 5, 10)  # the last repeats


class AppWorker(SimpleWorker):
    """Runs jobs in this process (it already holds the app context and a database pool)
    and gives every job a fresh database session."""

    stop_requested = False

    def perform_job(self, job: Job, queue: Queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            db.session.remove()

    def handle_warm_shutdown_request(self) -> None:
        """SIGINT/SIGTERM: remembered, so that ``run_worker`` stops instead of restarting."""
        type(self).stop_requested = True
        super().handle_warm_shutdown_request()


class SchedulerThread(threading.Thread):
    """RQ's scheduler (retries, delayed domain checks) as a daemon thread of the worker."""

    def __init__(
        self, queues: list[Queue], connection: redis.Redis, name: str, interval: float = 1.0
    ):
        super().__init__(name="rq-scheduler", daemon=True)
        # One name per worker process, kept across reconnections: a lock this process
        # held before an outage is simply refreshed afterwards.
        self.scheduler = RQScheduler(
            queues, connection=connection, interval=int(interval), name=name
        )
        self.interval = interval
        self._stopping = threading.Event()
        self._registered = False
        self._redis_down = False

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
                if self._redis_down:
                    log.info("scheduler.redis_back")
                self._redis_down = False
            except REDIS_ERRORS as error:
                if not self._redis_down:
                    log.warning("scheduler.redis_unreachable", error=str(error))
                self._redis_down = True
                # Once back: register again (a restarted Redis lost our metadata) and
                # take or refresh the locks (ours by name, if they survived).
                self._registered = False
                self.scheduler._acquired_locks = set()
            self._stopping.wait(self.interval)
        with contextlib.suppress(*REDIS_ERRORS):
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def tick(self) -> None:
        """Hold (or take) the locks, then move due jobs to their queues."""
        scheduler = self.scheduler
        if not self._registered:
            scheduler.register_birth()
            self._registered = True
        if scheduler.acquired_locks != scheduler._queue_names:
            for name in scheduler._queue_names - scheduler.acquired_locks:
                release_dead_local_lock(scheduler.connection, RQScheduler.get_locking_key(name))
            scheduler.acquire_locks()
        if scheduler.acquired_locks:
            scheduler.heartbeat()
            scheduler.enqueue_scheduled_jobs()
        else:
            scheduler.save()  # stay visible (and alive) while another scheduler holds the lock

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)


def release_dead_local_lock(connection: redis.Redis, lock_key: str) -> bool:
    """Free a scheduler lock whose holder ran on this host in a process that is gone
    (a SIGKILLed worker); a holder elsewhere is left to its TTL."""
    # redis-py types a synchronous reply as "Awaitable | Any"; GET gives bytes or None.
    holder = cast("bytes | None", connection.get(lock_key))
    if holder is None:
        return False
    name = holder.decode()
    try:
        other = RQScheduler.fetch(name, connection)
    except (SchedulerNotFound, KeyError, ValueError):
        return False  # no (complete) metadata: cannot tell, so the TTL decides
    if other.hostname != socket.gethostname() or process_alive(other.pid):
        return False
    if release_lock(connection, lock_key, name):
        log.warning("scheduler.stale_lock_released", lock=lock_key, holder=name, pid=other.pid)
        return True
    return False


def run_worker(
    make_queue: Callable[[], Queue], *, burst: bool = False, logging_level: str = "INFO"
) -> None:
    """Work the queue until asked to stop (or, with ``burst``, until it is empty, and
    then a Redis error is the caller's), riding out Redis outages: each outage is
    logged once, then Redis is retried with backoff and a fresh worker started."""
    AppWorker.stop_requested = False
    scheduler_name = uuid.uuid4().hex
    outage_started: float | None = None
    attempt = 0
    while True:
        _stop_on_signals()  # RQ's work() installs its own handlers while it runs
        if AppWorker.stop_requested:
            return
        queue = make_queue()
        scheduler = SchedulerThread([queue], queue.connection, scheduler_name)
        try:
            queue.connection.ping()
            if outage_started is not None:
                down = round(time.monotonic() - outage_started, 1)
                log.info("worker.redis_back", down_seconds=down)
                outage_started, attempt = None, 0
            scheduler.start()
            AppWorker([queue], connection=queue.connection).work(
                burst=burst, logging_level=logging_level
            )
        except REDIS_ERRORS as error:
            if burst:
                raise
            if outage_started is None:
                outage_started = time.monotonic()
                log.warning("worker.redis_unreachable", error=str(error))
        finally:
            if scheduler.is_alive():
                scheduler.stop()
        if AppWorker.stop_requested or burst:
            return
        if outage_started is None:
            if _redis_answers(queue):  # RQ's loop quit for another reason (it logged why)
                log.warning("worker.restarting")
                _sleep_unless_stopped(RECONNECT_BACKOFF_SECONDS[0])
                continue
            outage_started = time.monotonic()  # RQ's loop quit on a Redis error
            log.warning("worker.redis_unreachable", error="the work loop lost Redis")
        _sleep_unless_stopped(
            RECONNECT_BACKOFF_SECONDS[min(attempt, len(RECONNECT_BACKOFF_SECONDS) - 1)]
        )
        attempt += 1
        if AppWorker.stop_requested:
            return


def _redis_answers(queue: Queue) -> bool:
    try:
        return bool(queue.connection.ping())
    except REDIS_ERRORS:
        return False


def _stop_on_signals() -> None:
    """SIGINT/SIGTERM outside RQ's work loop (reconnecting, waiting): stop, gracefully."""

    def stop(signum: int, frame: FrameType | None) -> None:
        AppWorker.stop_requested = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


def _sleep_unless_stopped(seconds: float) -> None:
    """Wait between reconnection attempts; a stop request ends the wait."""
    _stop_on_signals()
    deadline = time.monotonic() + seconds
    while not AppWorker.stop_requested and time.monotonic() < deadline:
        time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))
