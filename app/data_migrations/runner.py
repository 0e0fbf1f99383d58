"""Data migrations: "run this command once, with options", through the ledger.

A data migration has a name and three functions: ``batch`` (what it would process now),
``plan`` (read-only; validates and raises before any change) and ``execute`` (applies a
plan in the caller's transaction). ``apply`` runs one through the ledger, on any
connection: the operator's command and an Alembic revision's, so both run the very same
code. Which migrations exist, by name, is the service layer's list
(``app.services.data_migrations``): the migrations themselves are services, and this
module, below them, only receives them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Connection

from app.data_migrations import ledger
from app.data_migrations.ledger import Batch, LedgerEntry


class Plan(Protocol):
    """What a data migration would do; ``report`` words it for the operator."""

    def report(self, verbosity: int) -> list[str]: ...


class Outcome(Protocol):
    """What it did: ``details`` go to the ledger, ``notice_ids`` are delivered after commit."""

    @property
    def details(self) -> dict[str, Any]: ...

    @property
    def notice_ids(self) -> Sequence[int]: ...

    def report(self, verbosity: int) -> list[str]: ...


@dataclass(frozen=True)
class DataMigration:
    name: str
    description: str
    command: str  # the CLI command that runs it
    batch: Callable[..., Batch]
    plan: Callable[..., Plan]
    execute: Callable[[Connection, Any], Outcome]


@dataclass(frozen=True)
class Applied:
    """The result of ``apply``: ran, skipped (this batch was applied before) or faked."""

    name: str
    status: Literal["ran", "skipped", "faked"]
    entry: LedgerEntry
    outcome: Outcome | None = None

    @property
    def notice_ids(self) -> Sequence[int]:
        return self.outcome.notice_ids if self.outcome is not None else ()

    def report(self, verbosity: int = 1) -> list[str]:
        when = self.entry.applied_at.strftime("%Y-%m-%d %H:%M UTC")
        batch = self.entry.batch_hash[:12]
        if self.status == "skipped":
            how = "marked applied" if self.entry.faked else "applied"
            return [
                f"{self.name}: already {how} on {when} for this batch ({batch}); "
                "--force runs it again"
            ]
        if self.status == "faked":
            return [f"{self.name}: marked applied for batch {batch} without running"]
        assert self.outcome is not None
        return [*self.outcome.report(verbosity), f"{self.name}: recorded batch {batch}"]


def preview(connection: Connection, migration: DataMigration, **options: Any) -> Plan:
    """What ``migration`` would do now, whatever the ledger says; changes nothing."""
    return migration.plan(connection, **options)


def apply(
    connection: Connection,
    migration: DataMigration,
    *,
    force: bool = False,
    fake: bool = False,
    **options: Any,
) -> Applied:
    """Run ``migration`` in the caller's transaction unless the ledger has its current batch.

    ``force`` runs it anyway; ``fake`` records the batch without running it. The caller
    commits, then delivers ``Applied.notice_ids``.
    """
    name = migration.name
    batch = migration.batch(**options)
    if fake:
        return Applied(name, "faked", ledger.record(connection, name, batch, {"faked": True}))
    recorded = ledger.get(connection, name)
    if recorded is not None and recorded.covers(batch) and not force:
        return Applied(name, "skipped", recorded)
    outcome = migration.execute(connection, migration.plan(connection, **options))
    return Applied(name, "ran", ledger.record(connection, name, batch, outcome.details), outcome)


def mark(connection: Connection, migration: DataMigration) -> LedgerEntry:
    """Record ``migration``'s current batch as applied without running it."""
    return apply(connection, migration, fake=True).entry


def offline(op: Any, what: str, command: str) -> bool:
    """True in ``flask db upgrade --sql``, where nothing can be read: the SQL then says
    what to run once it is applied, instead of running ``what``."""
    context = op.get_context()
    if context.as_sql:
        context.impl.static_output(f"-- {what} needs a database: after this SQL, run {command}")
    return context.as_sql
