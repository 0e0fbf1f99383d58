"""One run at a time per workspace, across every worker: a Redis lock with a heartbeat.

The lock has a TTL so a crashed worker's lock expires by itself; while it is held a
background thread renews the TTL (every ttl/3), so a long apply keeps it. Waiting is
blocking up to a wait timeout (a job waits only briefly, then is scheduled again:
``app.services.runs.liveness``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from types import TracebackType

from redis import Redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.lock import Lock

logger = logging.getLogger(__name__)

LOCK_PREFIX = "chatdock:lock:workspace:"


class LockTimeout(TimeoutError):
    """The workspace stayed locked longer than we were willing to wait (transient)."""


def lock_name(key: str) -> str:
    return f"{LOCK_PREFIX}{key}"


# --- who holds a lock ------------------------------------------------------------------
# A lock's value names its holder: host, PID namespace, process id, then a random part.
# So a lock whose holder was a process of this host that is gone (a SIGKILLed worker) is
# known dead at once, without waiting for its TTL; other hosts' locks are left to it.

_RELEASE_IF_HELD_BY = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def holder_token() -> str:
    """A new lock value naming this process as its holder."""
    return f"{socket.gethostname()}|{_pid_namespace()}|{os.getpid()}|{uuid.uuid4().hex}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host (and PID namespace) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_dead(value: bytes | str | None) -> bool:
    """The lock value's holder was a process of this host and PID namespace that is
    gone. False whenever that cannot be told (another host, an older value format)."""
    if value is None:
        return False
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    parts = text.split("|")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, namespace, pid = parts[0], parts[1], int(parts[2])
    if host != socket.gethostname() or not namespace or namespace != _pid_namespace():
        return False
    return not process_alive(pid)


def release_if_held_by(redis: Redis, key: str, value: bytes | str) -> bool:
    """Delete workspace ``key``'s lock if ``value`` still holds it (a dead holder's)."""
    # redis-py types EVAL arguments as str; the value goes as the bytes GET returned.
    return bool(redis.eval(_RELEASE_IF_HELD_BY, 1, lock_name(key), value))  # type: ignore[arg-type]


class WorkspaceLock:
    """Mutual exclusion for one workspace key; usable as a context manager.

    ``lost`` turns true when the heartbeat found the lock gone (it expired, e.g. the
    process was stopped longer than ``ttl``), so a caller can refuse to go on.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        *,
        ttl: float = 60.0,
        wait_timeout: float | None = None,
        heartbeat_interval: float | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.key = key
        self.name = lock_name(key)
        self.ttl = ttl
        self.wait_timeout = wait_timeout
        self.heartbeat_interval = heartbeat_interval or ttl / 3
        # thread_local=False: the heartbeat thread must see the token of the acquirer.
        self._lock = Lock(redis, self.name, timeout=ttl, sleep=poll_interval, thread_local=False)
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._held = False
        self._lost = False

    @property
    def held(self) -> bool:
        """Acquired by us, not released, and not found expired by the heartbeat."""
        return self._held and not self._lost

    @property
    def lost(self) -> bool:
        return self._lost

    def verify(self) -> bool:
        """Ask Redis whether the lock is still ours (the heartbeat only notices at its
        next beat); a Redis error counts as lost: we cannot prove we hold it."""
        if not self._held or self._lost:
            return False
        try:
            owned = self._lock.owned()
        except RedisError as error:
            logger.warning("could not check lock %s: %s", self.name, error)
            owned = False
        if not owned:
            self._lost = True
            logger.error("lock %s is no longer held: stopping", self.name)
        return owned

    def lost_reason(self, thorough: bool = False) -> str | None:
        """Why the holder must stop (None while the lock is ours): the abort check of a
        terraform runner (``thorough``: ask Redis, else the heartbeat's finding)."""
        held = self.verify() if thorough else self.held
        return None if held else f"the lock of workspace {self.key} was lost"

    def acquire(self, wait_timeout: float | None = None) -> WorkspaceLock:
        """Block until the lock is ours; ``None`` waits forever. Raises LockTimeout."""
        if self._held:
            raise RuntimeError(f"{self.name} is already held by this object")
        if not self._lock.acquire(
            blocking=True, blocking_timeout=wait_timeout, token=holder_token()
        ):
            raise LockTimeout(f"workspace {self.key} is still locked after {wait_timeout}s")
        self._held, self._lost = True, False
        self._start_heartbeat()
        return self

    def release(self) -> None:
        """Release if still ours; safe when never acquired or already expired."""
        self._stop_heartbeat()
        if not self._held:
            return
        self._held = False
        try:
            self._lock.release()
        except LockNotOwnedError:
            logger.warning("lock %s had expired before release", self.name)
        except (LockError, RedisError) as error:  # expires by itself after ttl
            logger.warning("could not release lock %s: %s", self.name, error)

    def __enter__(self) -> WorkspaceLock:
        if not self._held:
            self.acquire(self.wait_timeout)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- heartbeat ----------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(
            target=self._beat, args=(self._stop,), name=f"lock-heartbeat:{self.key}", daemon=True
        )
        self._heartbeat.start()

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        thread, self._heartbeat = self._heartbeat, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _beat(self, stop: threading.Event) -> None:
        """Reset the TTL every interval; a Redis hiccup is retried at the next beat."""
        while not stop.wait(self.heartbeat_interval):
            try:
                self._lock.reacquire()
            except LockNotOwnedError:
                self._lost = True
                logger.error("lock %s expired while held: another run may start", self.name)
                return
            except (LockError, RedisError) as error:
                logger.warning("could not renew lock %s: %s", self.name, error)
