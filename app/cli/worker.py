"""flask worker: the RQ worker (with its scheduler, for retries) inside the app context."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.config import current_settings
from app.queue import job_queue, worker_connection
from app.services.reconcile import start_reconciler
from app.worker import REDIS_ERRORS, AppWorker, run_worker

__all__ = ["AppWorker", "worker"]


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run infrastructure jobs from the queue (REDIS_URL, RQ_QUEUE); Redis outages are
    waited out (logged), and the scheduler runs in this process."""
    settings = current_settings()
    click.echo(f"worker on queue {settings.RQ_QUEUE!r}", err=True)
    reconciler = (
        None
        if burst
        else start_reconciler(
            current_app._get_current_object().app_context,  # type: ignore[attr-defined]
            settings.RECONCILE_SECONDS,
        )
    )
    try:
        run_worker(
            lambda: job_queue(settings, worker_connection(settings)),
            burst=burst,
            logging_level=settings.LOG_LEVEL,
        )
    except REDIS_ERRORS as error:  # --burst only: a long-running worker waits Redis out
        raise click.ClickException(f"Redis (REDIS_URL) is unreachable: {error}") from None
    finally:
        if reconciler is not None:
            reconciler.stop()
