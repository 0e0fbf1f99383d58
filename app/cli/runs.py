"""Printing and waiting for infrastructure runs (shared by `clients` and `infra`)."""

from __future__ import annotations

import time

import click

from app.cli.common import fmt_time
from app.extensions import db
from app.infra.plan_summary import PlanSummary
from app.models import InfraRun, RunStatus

WAIT_POLL_SECONDS = 1.0


def describe(run: InfraRun) -> str:
    return f"run {run.id}: {run.kind.value} {run.workspace_key} is {run.status.value}" + (
        f" ({run.note})" if run.note else ""
    )


def wait_for(run: InfraRun, timeout: float) -> InfraRun:
    """Poll until the run ends or awaits approval; print each status change."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        db.session.refresh(run)
        if run.status != seen:
            click.echo(f"  {run.status.value}", err=True)
            seen = run.status
        if run.is_final or (run.status == RunStatus.AWAITING_APPROVAL and not run.approved_at):
            return run
        if time.monotonic() > deadline:
            raise click.ClickException(f"gave up waiting after {timeout:.0f}s: {describe(run)}")
        time.sleep(WAIT_POLL_SECONDS)


def finish(run: InfraRun, wait: bool, timeout: float) -> InfraRun:
    """Print where the run stands; with --wait, exit non-zero when it errored."""
    click.echo(describe(run))
    if not wait:
        click.echo(f"follow it: flask infra logs {run.id}")
        return run
    run = wait_for(run, timeout)
    click.echo(describe(run))
    if run.status == RunStatus.AWAITING_APPROVAL:
        click.echo(summary_text(run))
        click.echo(
            f"review, then: flask infra approve {run.id}  (or: flask infra discard {run.id})"
        )
    if run.status == RunStatus.ERRORED:
        raise click.ClickException(f"run {run.id} errored: {run.error}")
    if run.status == RunStatus.DISCARDED and run.error:
        raise click.ClickException(f"run {run.id} discarded: {run.error}")
    return run


def summary_text(run: InfraRun) -> str:
    if not run.plan_summary:
        return "(no plan yet)"
    return PlanSummary.from_dict(run.plan_summary).text()


RUN_COLUMNS = ["ID", "KIND", "STATUS", "WORKSPACE", "CHANGES", "CREATED"]


def run_row(run: InfraRun) -> list[str]:
    """A run's cells under RUN_COLUMNS (printed with ``echo_table``)."""
    counts = (run.plan_summary or {}).get("counts", {})
    changes = " ".join(f"{k[0]}{v}" for k, v in counts.items() if v) or "-"
    return [
        str(run.id),
        run.kind.value,
        run.status.value,
        run.workspace_key,
        changes,
        fmt_time(run.created_at),
    ]
