"""The named data migrations, run by name from the CLI and from Alembic revisions, and
the delivery of the notices they store once their transaction committed.

The list lives here, beside the migrations (services such as ``model_retirement``), and
is handed to ``app.data_migrations.runner``, which only runs what it receives.
Webhooks and emails go out only after the commit: the CLI delivers right after its
commit; in ``flask db upgrade`` the notices are collected and delivered by
``migrations/env.py`` (``deliver_after_migrations``) once the migrations committed, never
for a rolled-back run.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, select

from app.data_migrations import runner
from app.data_migrations.ledger import LedgerEntry
from app.data_migrations.runner import Applied, DataMigration, Plan
from app.errors import InvalidInput
from app.extensions import db
from app.logging_setup import get_logger
from app.models import Notification
from app.services.model_retirement import REMOVE_DEPRECATED_MODELS
from app.services.notifications import deliver

MIGRATIONS: tuple[DataMigration, ...] = (REMOVE_DEPRECATED_MODELS,)

alembic_log = logging.getLogger("alembic.data_migrations")
log = get_logger("chatdock.data_migrations")
# The notices stored by the data migrations of the Alembic run in progress (None outside one).
_collected: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "notices_after_migration", default=None
)


def registry() -> dict[str, DataMigration]:
    """Every data migration by name."""
    return {m.name: m for m in MIGRATIONS}


def get_migration(name: str) -> DataMigration:
    migrations = registry()
    if name not in migrations:
        raise InvalidInput(
            f"unknown data migration {name!r}; known: {', '.join(sorted(migrations))}"
        )
    return migrations[name]


def preview(connection: Connection, name: str, **options: Any) -> Plan:
    """What ``name`` would do now, whatever the ledger says; changes nothing."""
    return runner.preview(connection, get_migration(name), **options)


def apply(
    connection: Connection, name: str, *, force: bool = False, fake: bool = False, **options: Any
) -> Applied:
    """``runner.apply`` of the migration called ``name``; the caller commits, then
    delivers ``Applied.notice_ids`` (``deliver_notices``)."""
    return runner.apply(connection, get_migration(name), force=force, fake=fake, **options)


def mark(connection: Connection, name: str) -> LedgerEntry:
    """Record ``name``'s current batch as applied without running it."""
    return runner.mark(connection, get_migration(name))


def run_data_migration(op: Any, name: str, **options: Any) -> Applied | None:
    """Run a named data migration from an Alembic revision's ``upgrade()``.

    ``run_data_migration(op, "remove_deprecated_models", force=True)`` is the command
    ``flask models remove-deprecated --force``, in the revision's transaction; notices
    are delivered once the migrations committed. None in ``--sql`` mode (see
    ``runner.offline``).
    """
    migration = get_migration(name)
    command = migration.command + (" --force" if options.get("force") else "")
    if runner.offline(op, f"data migration {name}", command):
        return None
    applied = runner.apply(op.get_bind(), migration, **options)
    for line in applied.report():
        alembic_log.info(line)
    defer_delivery(applied.notice_ids)
    return applied


def deliver_notices(notice_ids: Iterable[int]) -> None:
    """Send committed notices by webhook and email, as configured (after the commit)."""
    ids = list(notice_ids)
    if ids:
        deliver(db.session.scalars(select(Notification).where(Notification.id.in_(ids))))


@contextlib.contextmanager
def deliver_after_migrations() -> Iterator[None]:
    """Around Alembic's run: deliver the notices data migrations stored, once committed."""
    collected: list[int] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    try:
        deliver_notices(collected)
    except Exception:  # the migration committed: a failed delivery must not undo it
        log.exception("notices_after_migration_not_delivered", notice_ids=collected)


def defer_delivery(notice_ids: Iterable[int]) -> None:
    """Have ``deliver_after_migrations`` send these notices after the commit."""
    ids = list(notice_ids)
    collected = _collected.get()
    if collected is None:
        if ids:
            log.warning("notices_stored_not_delivered", notice_ids=ids)
        return
    collected.extend(ids)
