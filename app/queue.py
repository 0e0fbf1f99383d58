"""Redis and the RQ queue of infrastructure jobs.

Every Redis client here has connect and read timeouts (``REDIS_CONNECT_TIMEOUT_SECONDS``,
``REDIS_READ_TIMEOUT_SECONDS``): a Redis that stops answering (paused, a half-open
connection) fails a request in seconds instead of holding a server thread. One client,
with its connection pool, serves a process per URL and timeouts (requests, the
reconciler, the workspace locks, the readiness probe). The RQ worker's own loop is the
exception: it blocks on BLPOP for minutes, and RQ raises its connection's read timeout
above that wait (``Worker._set_connection`` changes the pool in place), so the worker
gets a connection of its own (:func:`worker_connection`) and never widens the shared
one.
"""

from __future__ import annotations

import threading

from redis import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry

from app.config import Settings, current_settings
from app.errors import ChatdockError


class QueueUnavailable(ChatdockError):
    status, code = 503, "queue_unavailable"


# The jobs, by handle: every enqueue names one of these (RQ imports the function by
# its dotted path in the worker, so the web process never imports the jobs).
JOBS = {
    "deploy": "jobs.deploy.deploy_default_api",
    "apply": "jobs.deploy.apply_run",
    "undeploy": "jobs.undeploy.undeploy_default_api",
    "delete": "jobs.delete.delete_default_api",
    "provision_domain": "jobs.domains.provision_domain",
    "destroy_domain": "jobs.domains.destroy_domain",
    "verify_domain": "jobs.verify_domain.verify_domain",
    "budget_warning": "jobs.notices.budget_warning",
    "routing": "jobs.routing.routing_run",
}


_clients: dict[tuple[str, float, float], Redis] = {}
_clients_lock = threading.Lock()


def _redis_url(settings: Settings) -> str:
    if not settings.REDIS_URL:
        raise QueueUnavailable(
            "infrastructure jobs need Redis: set REDIS_URL (scripts/run starts one)"
        )
    return settings.REDIS_URL


def redis_connection(settings: Settings | None = None) -> Redis:
    """The process's shared Redis client for ``REDIS_URL`` (one pool), with timeouts."""
    settings = settings or current_settings()
    key = (
        _redis_url(settings),
        settings.REDIS_CONNECT_TIMEOUT_SECONDS,
        settings.REDIS_READ_TIMEOUT_SECONDS,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = Redis.from_url(key[0], socket_connect_timeout=key[1], socket_timeout=key[2])
            _clients[key] = client
        return client


def worker_connection(settings: Settings | None = None) -> Redis:
    """A connection of the RQ worker's own: RQ sets its read timeout above its blocking
    dequeue (``worker_ttl`` - 5 s), which must not widen the shared client's."""
    settings = settings or current_settings()
    return Redis.from_url(
        _redis_url(settings), socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS
    )


def redis_url_with_timeouts(settings: Settings) -> str:
    """``REDIS_URL`` with the timeouts as query parameters (redis-py reads them), for
    libraries that build their own client from a URL (the RQ dashboard)."""
    url = _redis_url(settings)
    separator = "&" if "?" in url else "?"
    return (
        f"{url}{separator}socket_connect_timeout={settings.REDIS_CONNECT_TIMEOUT_SECONDS:g}"
        f"&socket_timeout={settings.REDIS_READ_TIMEOUT_SECONDS:g}"
    )


def reachable_queue(settings: Settings | None = None) -> Queue:
    """The job queue, after proving Redis answers: callers ask for it before changing
    anything, so an unreachable or silent Redis refuses the request with nothing
    changed, within the connect and read timeouts."""
    settings = settings or current_settings()
    queue = job_queue(settings)
    try:
        queue.connection.ping()
    except RedisTimeoutError:
        raise QueueUnavailable(
            "Redis (the job queue) is not answering (no reply within "
            f"{settings.REDIS_READ_TIMEOUT_SECONDS:g}s): nothing was changed; try again "
            "once Redis is back"
        ) from None
    except RedisError as error:
        raise QueueUnavailable(
            f"the job queue (Redis) is unreachable ({type(error).__name__}): nothing was "
            "changed; try again once Redis is back"
        ) from None
    return queue


def job_queue(settings: Settings | None = None, connection: Redis | None = None) -> Queue:
    """The queue of infrastructure jobs, on the shared client unless ``connection``."""
    settings = settings or current_settings()
    return Queue(
        settings.RQ_QUEUE,
        connection=connection or redis_connection(settings),
        default_timeout=settings.JOB_TIMEOUT_SECONDS,
    )


def retry_policy(settings: Settings | None = None) -> Retry | None:
    """Retries with backoff; the job itself re-raises only transient failures."""
    settings = settings or current_settings()
    if settings.JOB_MAX_RETRIES <= 0:
        return None
    return Retry(max=settings.JOB_MAX_RETRIES, interval=settings.JOB_BACKOFF_SECONDS or [10])
