"""Redis and the RQ queue of infrastructure jobs."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError
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


def redis_connection(settings: Settings | None = None) -> Redis:
    settings = settings or current_settings()
    if not settings.REDIS_URL:
        raise QueueUnavailable(
            "infrastructure jobs need Redis: set REDIS_URL (scripts/run starts one)"
        )
    return Redis.from_url(settings.REDIS_URL)


def reachable_queue(settings: Settings | None = None) -> Queue:
    """The job queue, after proving Redis answers: callers ask for it before changing
    anything, so an unreachable Redis refuses the request with nothing changed."""
    queue = job_queue(settings)
    try:
        queue.connection.ping()
    except RedisError as error:
        raise QueueUnavailable(
            f"the job queue (Redis) is unreachable ({type(error).__name__}): nothing was "
            "changed; try again once Redis is back"
        ) from None
    return queue


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
    return Retry(max=settings.JOB_MAX_RETRIES, interval=settings.JOB_BACKOFF_SECONDS or [10])
