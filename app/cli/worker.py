"""flask worker: the RQ worker (with its scheduler, for retries) inside the app context."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker

from app.config import current_settings
from app.extensions import db
from app.queue import job_queue, redis_connection
from app.services.reconcile import start_reconciler


class AppWorker(SimpleWorker):
    """Runs jobs in this process (it already holds the app context and a database pool)
    and gives every job a fresh database session."""

    def perform_job(self, job, queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            db.session.remove()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run infrastructure jobs from the queue (REDIS_URL, RQ_QUEUE)."""
    settings = current_settings()
    queue = job_queue(settings)
    click.echo(f"worker on queue {queue.name!r}", err=True)
    reconciler = None if burst else start_reconciler(current_app._get_current_object())
    try:
        AppWorker([queue], connection=redis_connection(settings)).work(
            burst=burst, with_scheduler=True, logging_level=settings.LOG_LEVEL
        )
    finally:
        if reconciler is not None:
            reconciler.stop()
