"""flask models ...: the model catalog and its lifecycle (sync, list, usage, retire)."""

from __future__ import annotations

import csv
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli.common import service_errors, transaction
from app.data_migrations import Applied, ledger
from app.llm import catalog
from app.llm.catalog import CATALOG
from app.llm.registry import PROVIDER_NAMES
from app.models.common import utcnow
from app.services import audit, data_migrations, llm_models
from app.services.model_catalog_sync import llm_model_migration
from app.services.model_notices import notify_deprecated
from app.services.model_prune import prune_check
from app.services.model_retirement import NAME as REMOVE_DEPRECATED
from app.services.model_retirement import RemovalOutcome, deleted_batch

models = AppGroup("models", help="The LLM model catalog and its lifecycle.")


@models.command("sync")
@service_errors
def sync() -> None:
    """Bring the models table in line with the catalog in code (adds, never deletes)."""
    with transaction() as connection:
        report = llm_model_migration(connection)
    for line in report.lines():
        click.echo(line)


@models.command("add")
@click.argument("provider", type=click.Choice(PROVIDER_NAMES))
@click.argument("name")
@click.option("--token-limit", type=int, help="Context window in tokens, if known.")
@service_errors
def add(provider: str, name: str, token_limit: int | None) -> None:
    """Offer a model the catalog does not list (e.g. served through OPENAI_BASE_URL)."""
    model = llm_models.add_custom_model(provider, name, token_limit)
    click.echo(f"added {model.provider}/{model.name}: clients may now use it")


@models.command("list")
@click.option("--provider", type=click.Choice(PROVIDER_NAMES), help="Only this provider's.")
@click.option("--deprecated", is_flag=True, help="Only deprecated models.")
@service_errors
def list_(provider: str | None, deprecated: bool) -> None:
    """List the models clients can reference, with how many use each."""
    rows = llm_models.list_models(provider, deprecated)
    if not rows:
        click.echo("no models" + (" match" if provider or deprecated else ": flask models sync"))
        return
    click.echo(f"{'PROVIDER':<11}{'MODEL':<28}{'TOKENS':>10}{'CLIENTS':>9}  STATE")
    for row in rows:
        model = row.model
        state = "default" if model.is_default else ""
        if model.deprecated:
            state = f"deprecated: use {llm_models.replacement_shown(model)}"
        tokens = f"{model.token_limit:,}" if model.token_limit else "?"
        click.echo(f"{model.provider:<11}{model.name:<28}{tokens:>10}{row.clients:>9}  {state}")


@models.command("usage")
@click.option("--deprecated-only", is_flag=True, help="Only clients on deprecated models.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout, one row per client.")
@service_errors
def usage(deprecated_only: bool, as_csv: bool) -> None:
    """Which clients use which model."""
    rows = llm_models.usage(deprecated_only)
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            ["provider", "model", "deprecated", "replacement", "account", "account_name",
             "client", "client_id", "status"]
        )  # fmt: skip
        for row in rows:
            writer.writerow(
                [row.model.provider, row.model.name, row.model.deprecated,
                 llm_models.replacement_shown(row.model) or "", row.account.account_number,
                 row.account.name, row.client.name, row.client.id,
                 row.client.deployment_status.value]
            )  # fmt: skip
        return
    if not rows:
        click.echo("no client uses a deprecated model" if deprecated_only else "no clients yet")
        return
    current = None
    for row in rows:
        if row.model is not current:
            current = row.model
            count = sum(1 for r in rows if r.model is current)
            label = llm_models.model_label(current)
            click.echo(f"{current.provider}/{label}: {count} client{'s' * (count != 1)}")
        click.echo(
            f"    {row.account.account_number}  {row.client.name:<24}"
            f"{row.client.deployment_status.value:<20}{row.account.name}"
        )


@models.command("remove-deprecated")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--force", is_flag=True, help="Run even where this batch was applied before.")
@click.option("--fake", is_flag=True, help="Record the batch as applied without running it.")
@click.option(
    "-v",
    "--verbosity",
    type=click.IntRange(0, 2),
    default=1,
    show_default=True,
    help="2 lists, per model and account, the clients and who is told.",
)
@service_errors
def remove_deprecated(dry_run: bool, force: bool, fake: bool, verbosity: int) -> None:
    """Move the clients of DELETED_MODELS to their replacements, delete those models, and
    tell each affected account (one transaction; notices sent after it commits)."""
    if dry_run and fake:
        raise click.UsageError("--dry-run and --fake exclude each other")
    if dry_run:
        with transaction(commit=False) as connection:
            plan = data_migrations.preview(connection, REMOVE_DEPRECATED)
            recorded = ledger.get(connection, REMOVE_DEPRECATED)
        for line in plan.report(verbosity):
            click.echo(line)
        click.echo(_ledger_state(recorded))
        click.echo("dry run: nothing was changed")
        return
    with transaction() as connection:
        applied = data_migrations.apply(connection, REMOVE_DEPRECATED, force=force, fake=fake)
        _audit_retirements(applied)
    data_migrations.deliver_notices(applied.notice_ids)
    for line in applied.report(verbosity):
        click.echo(line)


def _audit_retirements(applied: Applied) -> None:
    """One audit event per model removed, in the removal's transaction."""
    outcome = applied.outcome  # None when skipped or faked
    for retirement in outcome.plan.retirements if isinstance(outcome, RemovalOutcome) else ():
        audit.record(
            "retire",
            "model",
            str(retirement.entry.ref),
            changes={
                "replaced_by": (None, str(retirement.target)),
                "clients_moved": (None, len(retirement.client_ids)),
            },
        )


def _ledger_state(recorded: ledger.LedgerEntry | None) -> str:
    if recorded is None:
        return "ledger: never applied here"
    when = f"{recorded.applied_at:%Y-%m-%d %H:%M UTC}"
    how = "marked applied" if recorded.faked else "applied"
    if recorded.covers(deleted_batch()):
        return f"ledger: this batch was {how} on {when}; without --force the run is skipped"
    return f"ledger: an older batch was {how} on {when}; this batch is pending"


@models.command("notify-deprecated")
@service_errors
def notify_deprecated_() -> None:
    """Tell each account once about each deprecated model its clients still use."""
    for line in notify_deprecated().lines():
        click.echo(line)


@models.command("prune-check")
@click.option(
    "--days",
    type=click.IntRange(0),
    default=30,
    show_default=True,
    help="How long an entry must have been in git history.",
)
@service_errors
def prune_check_(days: int) -> None:
    """List the DELETED_MODELS entries that may be removed from the code, and why the
    others may not (yet)."""
    with transaction(commit=False) as connection:
        recorded = ledger.get(connection, REMOVE_DEPRECATED)
    verdicts = prune_check(
        CATALOG.deleted, recorded, Path(catalog.__file__), utcnow(), timedelta(days=days)
    )
    for verdict in verdicts:
        click.echo(verdict.line())
    if not verdicts:
        click.echo("DELETED_MODELS is empty")
