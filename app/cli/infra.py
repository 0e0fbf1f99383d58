"""flask infra ...: runs and plan review."""

from __future__ import annotations

import click
import yaml
from flask.cli import AppGroup
from redis.exceptions import RedisError

from app.cli.common import echo_table, fmt_time, service_errors
from app.cli.domains import print_domain_run_outcome
from app.cli.runs import RUN_COLUMNS, describe, finish, run_row, summary_text, wait_for
from app.config import current_settings
from app.services import accounts, clients, routing
from app.services import infra as service
from app.services import reconcile as reconcile_service

infra = AppGroup("infra", help="Terraform runs: list, inspect, approve, discard.")


@infra.command("runs")
@click.option("--client", "client_name")
@click.option("--account", "account_number")
@service_errors
def runs(client_name: str | None, account_number: str | None) -> None:
    """List runs, newest first."""
    rows = service.list_runs(account_number, client_name)
    if not rows:
        click.echo("no runs yet: flask clients deploy NAME --account NUMBER")
        return
    echo_table(RUN_COLUMNS, [run_row(run) for run in rows], right=frozenset({0}))


@infra.command("show")
@click.argument("run_id", type=int)
@service_errors
def show(run_id: int) -> None:
    """A run's status, who asked and approved, and every resource change."""
    run = service.get_run(run_id)
    click.echo(describe(run))
    for label, value in (
        ("requested by", run.requested_by or "-"),
        ("approved by", run.approved_by or "-"),
        ("created", fmt_time(run.created_at)),
        ("planned", fmt_time(run.planned_at)),
        ("finished", fmt_time(run.finished_at)),
        ("config hash", run.config_hash or "-"),
        ("plan hash", run.plan_file_hash or "-"),
        ("rq job", run.rq_job_id or "-"),
        ("jobs run", f"{run.attempts} (a reviewed run takes two: plan, then apply)"),
    ):
        click.echo(f"{label + ':':<14}{value}")
    if run.error:
        click.echo(f"error:        {run.error}")
    click.echo("")
    click.echo(summary_text(run))


@infra.command("logs")
@click.argument("run_id", type=int)
@service_errors
def logs(run_id: int) -> None:
    """The full log of a run."""
    click.echo(service.get_run(run_id).log, nl=False)


@infra.command("approve")
@click.argument("run_id", type=int)
@click.option("--wait", is_flag=True, help="Block until the apply ends; non-zero if it errored.")
@service_errors
def approve(run_id: int, wait: bool) -> None:
    """Apply exactly the reviewed plan (refused if it went stale). With --wait, a run
    still planning is awaited first: its plan is then approved as soon as it is ready."""
    timeout = current_settings().JOB_TIMEOUT_SECONDS
    if wait and service.is_planning(run := service.get_run(run_id)):
        click.echo(f"run {run.id} is still {run.status.value}: waiting for its plan", err=True)
        wait_for(run, timeout)  # prints the plan once it is made
    run = finish(service.approve_run(run_id), wait, timeout)
    if wait:
        print_domain_run_outcome(run)


@infra.command("reconcile")
@service_errors
def reconcile() -> None:
    """Bring Redis in line with the database now (workers do it every RECONCILE_SECONDS):
    enqueue runs left without a job, fail runs abandoned by a dead worker, re-arm domain
    checks."""
    try:
        report = reconcile_service.sweep()
    except RedisError as error:
        raise click.ClickException(f"Redis is unreachable ({type(error).__name__})") from None
    for line in report.lines():
        click.echo(line)


@infra.command("discard")
@click.argument("run_id", type=int)
@service_errors
def discard(run_id: int) -> None:
    """Drop a plan awaiting approval."""
    click.echo(describe(service.discard_run(run_id)))


@infra.command("objects")
@click.argument("client_name")
@click.option("--account", "account_number", required=True)
@service_errors
def objects(client_name: str, account_number: str) -> None:
    """Print, as YAML, the Kubernetes objects that serve a client as they would be
    applied now: its HTTPRoute (or Ingress), its account's ListenerSet and the
    certificates covering its hosts."""
    client = clients.get_client(accounts.get_account(account_number), client_name)
    click.echo(yaml.safe_dump_all(routing.objects_of(client), sort_keys=False), nl=False)
