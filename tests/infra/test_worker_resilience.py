"""The worker against faults: Redis stopped and restarted under it (it waits and comes
back, never quits), and a SIGKILL (its scheduler dies with it, and the next worker
schedules at once)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.scheduler import RQScheduler

from devtools.services import redis_server_process
from tests.conftest import CUSTOMER_DOMAIN

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "chatdock-resilience"


def wait_for(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):  # reap it if it is our zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


@pytest.fixture
def redis():
    with redis_server_process() as server:
        yield server


@pytest.fixture
def start_worker(app, migrated, redis, tmp_path):
    """Start real `flask worker` processes (each its own process group); yields a
    function returning (process, path of its stderr log)."""
    procs: list[subprocess.Popen] = []

    def start() -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"worker-{len(procs)}.log"
        env = {
            **os.environ,
            "FLASK_APP": "wsgi.py",
            "DATABASE_URL": migrated,
            "REDIS_URL": redis.url,
            "RQ_QUEUE": QUEUE,
            "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
            "SECRET_KEY": "test-secret-key",
            "LOG_LEVEL": "INFO",
        }
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        procs.append(proc)
        return proc, log

    yield start
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _queue(redis) -> Queue:
    return Queue(QUEUE, connection=Redis.from_url(redis.url))


def _workers(redis) -> list[Worker]:
    return Worker.all(connection=Redis.from_url(redis.url))


def _finished(job) -> bool:
    with contextlib.suppress(Exception):
        return job.get_status(refresh=True) == "finished"
    return False


def test_the_worker_waits_out_a_redis_outage_and_works_again(redis, start_worker):
    proc, log = start_worker()
    wait_for(lambda: _workers(redis), what="the worker to register")
    job = _queue(redis).enqueue("time.sleep", 2)
    wait_for(lambda: job.get_status(refresh=True) == "started", what="the job to start")

    redis.stop()  # the job finishes while Redis is down: RQ's own loop quits on that
    wait_for(
        lambda: "worker.redis_unreachable" in log.read_text() or proc.poll() is not None,
        what="the worker to notice the outage",
    )
    assert proc.poll() is None, log.read_text()  # it did not quit

    redis.start()  # a fresh server on the same port (nothing persisted)
    wait_for(lambda: _workers(redis), what="the worker to register again")
    assert "worker.redis_back" in log.read_text()
    after = _queue(redis).enqueue("time.sleep", 0)
    wait_for(lambda: _finished(after), what="a job after the outage")
    assert proc.poll() is None


def test_a_killed_workers_scheduler_dies_with_it_and_the_next_one_schedules(redis, start_worker):
    connection = Redis.from_url(redis.url)
    lock = RQScheduler.get_locking_key(QUEUE)
    first, _ = start_worker()
    holder = wait_for(lambda: connection.get(lock), what="the scheduler lock").decode()
    scheduler_pid = RQScheduler.fetch(holder, connection).pid

    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    wait_for(lambda: not alive(scheduler_pid), timeout=10, what="the scheduler to die too")

    second, log = start_worker()
    started = time.monotonic()
    job = _queue(redis).enqueue_in(timedelta(seconds=1), "time.sleep", 0)
    wait_for(lambda: _finished(job), timeout=40, what="the scheduled job")
    assert time.monotonic() - started < 30  # not after the dead holder's lock expired (61 s)
    assert connection.get(lock).decode() != holder
    assert second.poll() is None, log.read_text()


def test_a_burst_worker_without_redis_exits_1_with_the_reason(migrated):
    from devtools.services import free_port

    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": migrated,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "SECRET_KEY": "test-secret-key",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Error: Redis (REDIS_URL) is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
