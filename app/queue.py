"""Redis and the RQ queue of infrastructure jobs."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Retry

from app.config import Settings, current_settings
from app.errors import ChatdockError


class QueueUnavailable(ChatdockError):
    status, code = 503, "queue_unavailable"


def redis_connection(settings: Settings | None = None) -> Redis:
    settings = settings or current_settings()
    if not settings.REDIS_URL:
        raise QueueUnavailable(
            "infrastructure jobs need Redis: set REDIS_URL (scripts/run starts one)"
        )
    return Redis.from_url(settings.REDIS_URL)


def job_queue(settings: Settings | None = None) -> Queue:
    settings = settings or current_settings()
    return Queue(
        settings.RQ_QUEUE,
        connection=redis_connection(settings),
        default_timeout=settings.JOB_TIMEOUT_SECONDS,
    )


def retry_policy(settings: Settings | None = None) -> Retry | None:
    """Retries with backoff; the job itself re-raises only transient failures."""
    settings = settings or current_settings()
    if settings.JOB_MAX_RETRIES <= 0:
        return None
    intervals = [int(x) for x in settings.JOB_BACKOFF_SECONDS.split(",") if x.strip()] or [10]
    return Retry(max=settings.JOB_MAX_RETRIES, interval=intervals)
