"""WorkspaceLock against a real redis-server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from app.infra.locks import LockTimeout, WorkspaceLock, lock_name


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def key() -> str:
    return f"clients/3141-5926-5359/demo-{uuid.uuid4().hex[:8]}"


def test_name_and_context_manager(redis: Redis, key: str) -> None:
    lock = WorkspaceLock(redis, key, ttl=5)
    assert lock.name == lock_name(key) == f"chatdock:lock:workspace:{key}"
    with lock:
        assert lock.held
        assert redis.exists(lock.name)
        assert 0 < redis.pttl(lock.name) <= 5000
    assert not lock.held and not redis.exists(lock.name)


def test_mutual_exclusion_across_threads(redis: Redis, key: str) -> None:
    inside, most_inside, entries = 0, 0, []
    guard = threading.Lock()

    def work(n: int) -> None:
        nonlocal inside, most_inside
        with WorkspaceLock(redis, key, ttl=5, poll_interval=0.01):
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            time.sleep(0.05)
            entries.append(n)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(entries) == list(range(8))
    assert most_inside == 1


def test_waiter_gets_the_lock_after_release(redis: Redis, key: str) -> None:
    first = WorkspaceLock(redis, key, ttl=5).acquire()
    with pytest.raises(LockTimeout):
        WorkspaceLock(redis, key, ttl=5).acquire(wait_timeout=0.3)

    acquired_at: list[float] = []

    def second_deploy() -> None:
        with WorkspaceLock(redis, key, ttl=5, poll_interval=0.02):
            acquired_at.append(time.monotonic())

    waiter = threading.Thread(target=second_deploy)
    waiter.start()
    time.sleep(0.5)
    assert not acquired_at  # waits its turn
    released_at = time.monotonic()
    first.release()
    waiter.join(timeout=5)
    assert acquired_at and acquired_at[0] - released_at < 0.5


def test_heartbeat_keeps_the_lock_past_its_ttl(redis: Redis, key: str) -> None:
    with WorkspaceLock(redis, key, ttl=1) as lock:
        time.sleep(2.5)  # a long apply
        assert lock.held and not lock.lost
        with pytest.raises(LockTimeout):
            WorkspaceLock(redis, key, ttl=1).acquire(wait_timeout=0.2)
    assert not redis.exists(lock_name(key))


def test_crashed_holder_lock_expires_after_ttl(redis: Redis, key: str) -> None:
    crashed = WorkspaceLock(redis, key, ttl=1).acquire()
    crashed._stop_heartbeat()  # the worker died: nobody renews, nobody releases
    started = time.monotonic()
    successor = WorkspaceLock(redis, key, ttl=5).acquire(wait_timeout=5)
    waited = time.monotonic() - started
    assert 0.5 < waited < 2.0
    crashed.release()  # a late release of an expired lock is harmless...
    assert successor.held and redis.exists(successor.name)  # ...and frees nothing
    successor.release()


def test_heartbeat_reports_a_lost_lock(redis: Redis, key: str) -> None:
    lock = WorkspaceLock(redis, key, ttl=3, heartbeat_interval=0.1).acquire()
    redis.delete(lock.name)  # expired while the process was frozen, say
    deadline = time.monotonic() + 2
    while not lock.lost and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock.lost and not lock.held
    lock.release()


def test_release_of_a_lock_never_acquired_frees_nobody_elses(redis: Redis, key: str) -> None:
    """A job that gave up waiting releases in its ``finally``: the holder keeps the lock
    (its run goes on), and nobody else gets it until the holder releases."""
    holder = WorkspaceLock(redis, key, ttl=5).acquire()
    gave_up = WorkspaceLock(redis, key, ttl=5)
    with pytest.raises(LockTimeout):
        gave_up.acquire(wait_timeout=0.1)
    gave_up.release()
    assert holder.held and redis.get(holder.name) is not None
    with pytest.raises(LockTimeout):
        WorkspaceLock(redis, key, ttl=5).acquire(wait_timeout=0.1)
    holder.release()
    assert redis.get(lock_name(key)) is None
    assert WorkspaceLock(redis, key, ttl=5).acquire(wait_timeout=1).held
