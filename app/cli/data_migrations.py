"""flask data-migrations ...: the named data migrations and their ledger."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import fmt_time, service_errors, transaction
from app.data_migrations import DataMigration, ledger
from app.errors import NotFound
from app.services.data_migrations import get_migration, mark, registry

data_migrations_cli = AppGroup(
    "data-migrations", help="Named data migrations (run once per batch) and their ledger."
)


@data_migrations_cli.command("list")
@click.option("--name", "substring", help="Only names containing this.")
@service_errors
def list_(substring: str | None) -> None:
    """List data migrations: applied when, for which batch, or pending."""
    known = registry()
    with transaction(commit=False) as connection:
        recorded = {entry.name: entry for entry in ledger.entries(connection)}
    names = sorted(n for n in set(known) | set(recorded) if not substring or substring in n)
    if not names:
        click.echo("no data migrations" + (f" matching {substring!r}" if substring else ""))
        return
    for name in names:
        migration, entry = known.get(name), recorded.get(name)
        click.echo(f"{name}: {_state(entry, migration)}")
        if migration is not None:
            click.echo(f"    {migration.description}")


def _state(entry: ledger.LedgerEntry | None, migration: DataMigration | None) -> str:
    if entry is None:
        return "pending (never applied)"
    how = "marked applied" if entry.faked else "applied"
    said = f"{how} {fmt_time(entry.applied_at)}, batch {entry.batch_hash[:12]}"
    if migration is None:
        return f"{said} (no longer registered)"
    if not entry.covers(migration.batch()):
        return f"{said}; the current batch is pending"
    return said


@data_migrations_cli.command("mark")
@click.argument("name")
@service_errors
def mark_(name: str) -> None:
    """Record NAME's current batch as applied, without running it."""
    get_migration(name)
    with transaction() as connection:
        entry = mark(connection, name)
    click.echo(f"{name}: marked applied for batch {entry.batch_hash[:12]}")


@data_migrations_cli.command("unmark")
@click.argument("name")
@service_errors
def unmark(name: str) -> None:
    """Forget that NAME ran, so that it runs again."""
    with transaction() as connection:
        if not ledger.unmark(connection, name):
            raise NotFound(f"{name} is not in the ledger")
    click.echo(f"{name}: no longer recorded; it runs again next time")
