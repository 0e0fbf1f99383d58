"""Printing and waiting for infrastructure runs (shared by `clients` and `infra`)."""

from __future__ import annotations

import time

import click

from app.cli.common import fmt_time
from app.infra.plan_summary import PlanSummary
from app.models import InfraRun, RunStatus
from app.services import runs
from app.services.client_state import client_state

WAIT_POLL_SECONDS = 1.0


def describe(run: InfraRun) -> str:
    return f"run {run.id}: {run.kind_label} {run.workspace_key} is {run.status.value}" + (
        f" ({run.note})" if run.note else ""
    )


def wait_for(run: InfraRun, timeout: float) -> InfraRun:
    """Poll until the run ends or awaits approval, streaming what it does on stderr: each
    status change, the log lines terraform writes (the new tail of the run's log at every
    poll), and its plan as soon as there is one (an auto-approved run never stops to
    show it)."""
    deadline = time.monotonic() + timeout
    seen = None
    printed = len(run.log or "")  # lines already there were seen (an approved plan's)
    plan_shown = run.plan_summary is not None
    while True:
        run = runs.reread(run)
        if run.status != seen:
            click.echo(f"  {run.status.value}", err=True)
            seen = run.status
        log = run.log or ""
        if len(log) > printed:
            for line in log[printed:].splitlines():
                click.echo(f"  | {line}", err=True)
            printed = len(log)
        if run.plan_summary is not None and not plan_shown:
            plan_shown = True
            click.echo(summary_text(run))
        if run.is_final or (run.status == RunStatus.AWAITING_APPROVAL and not run.approved_at):
            return run
        if time.monotonic() > deadline:
            raise click.ClickException(f"gave up waiting after {timeout:.0f}s: {describe(run)}")
        time.sleep(WAIT_POLL_SECONDS)


def finish(run: InfraRun, wait: bool, timeout: float) -> InfraRun:
    """Print where the run stands; with --wait, stream it, end with its result, and exit
    non-zero when it errored."""
    click.echo(describe(run))
    if not wait:
        click.echo(f"follow it: flask infra logs {run.id}")
        return run
    run = wait_for(run, timeout)
    click.echo(describe(run))
    if run.status == RunStatus.AWAITING_APPROVAL:
        click.echo(
            f"review, then: flask infra approve {run.id}  (or: flask infra discard {run.id})"
        )
    if run.status in (RunStatus.APPLIED, RunStatus.DESTROYED):
        click.echo(result_text(run))
    if run.status == RunStatus.ERRORED:
        raise click.ClickException(f"run {run.id} errored: {run.error}")
    if run.status == RunStatus.DISCARDED and run.error:
        raise click.ClickException(f"run {run.id} discarded: {run.error}")
    return run


def result_text(run: InfraRun) -> str:
    """What a finished run did, and where its client is served now."""
    counts = _counts(run)
    lines = [
        "result: "
        + (
            f"{counts['create']} created, {counts['update'] + counts['replace']} changed, "
            f"{counts['delete']} destroyed"
            if run.plan_summary
            else "nothing to do"
        )
    ]
    client = runs.current_client(run)
    if client is not None:
        lines.append(f"{client.name}: {client_state(client).serving_text()}")
    return "\n".join(lines)


def _counts(run: InfraRun) -> dict[str, int]:
    counts = (run.plan_summary or {}).get("counts", {})
    return {action: int(counts.get(action, 0)) for action in CHANGE_WORDS}


# Plan actions as the run list names them.
CHANGE_WORDS = {"create": "create", "update": "update", "replace": "replace", "delete": "delete"}


def changes_text(run: InfraRun) -> str:
    """``2 create, 1 delete`` (the plan's resource changes), ``none``, or ``-`` (no plan)."""
    if not run.plan_summary:
        return "-"
    counts = _counts(run)
    return ", ".join(f"{n} {CHANGE_WORDS[a]}" for a, n in counts.items() if n) or "none"


def summary_text(run: InfraRun) -> str:
    if not run.plan_summary:
        return "(no plan yet)"
    return PlanSummary.from_dict(run.plan_summary).text()


RUN_COLUMNS = ["ID", "KIND", "STATUS", "WORKSPACE", "CHANGES", "CREATED"]


def run_row(run: InfraRun) -> list[str]:
    """A run's cells under RUN_COLUMNS (printed with ``echo_table``)."""
    return [
        str(run.id),
        run.kind_label,
        run.status.value,
        run.workspace_key,
        changes_text(run),
        fmt_time(run.created_at),
    ]
