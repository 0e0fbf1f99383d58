"""Account notices written by data migrations, and their delivery once committed.

``app.services.notifications.notify`` needs ORM objects, which a data migration inside an
Alembic revision must not load (see ``tables``); ``record_notice`` writes the same row
with Core, and the database's unique (account, dedupe key) constraint keeps it
idempotent. Webhooks and emails go out only after the transaction committed: the CLI
delivers right after its commit; in ``flask db upgrade`` the notices are collected and
delivered by ``migrations/env.py`` once the migrations committed (never for a rolled-back
run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from app.data_migrations.tables import notifications
from app.extensions import db
from app.logging_setup import get_logger
from app.models.common import utcnow

log = get_logger("chatdock.data_migrations")

# Both dialects' INSERT has on_conflict_do_nothing; the generic one has not.
_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
_COLLECTOR = "chatdock.notices_after_migration"


def record_notice(
    connection: Connection,
    account_id: int,
    kind: str,
    subject: str,
    body: str,
    data: dict[str, Any],
    dedupe_key: str,
) -> int | None:
    """Store a notice in the caller's transaction; None when the key was already used."""
    insert = _INSERTS[connection.dialect.name]
    statement = (
        insert(notifications)
        .values(
            account_id=account_id,
            kind=kind,
            subject=subject[:300],
            body=body,
            data=data,
            dedupe_key=dedupe_key,
            created_at=utcnow(),
            delivery_error="",
        )
        .on_conflict_do_nothing(index_elements=["account_id", "dedupe_key"])
        .returning(notifications.c.id)
    )
    return connection.execute(statement).scalar_one_or_none()


def deliver_notices(notice_ids: Iterable[int]) -> None:
    """Send committed notices by webhook and email, as configured (after the commit)."""
    from app.models import Notification
    from app.services.notifications import deliver

    ids = list(notice_ids)
    if ids:
        deliver(db.session.scalars(select(Notification).where(Notification.id.in_(ids))))


@contextlib.contextmanager
def deliver_after_migrations() -> Iterator[None]:
    """Around Alembic's run: deliver the notices data migrations stored, once committed."""
    collected: list[int] = []
    current_app.extensions[_COLLECTOR] = collected
    try:
        yield
    finally:
        current_app.extensions.pop(_COLLECTOR, None)
    try:
        deliver_notices(collected)
    except Exception:  # the migration committed: a failed delivery must not undo it
        log.exception("notices_after_migration_not_delivered", notice_ids=collected)


def defer_delivery(notice_ids: Iterable[int]) -> None:
    """Have ``deliver_after_migrations`` send these notices after the commit."""
    ids = list(notice_ids)
    collected = current_app.extensions.get(_COLLECTOR)
    if collected is None:
        if ids:
            log.warning("notices_stored_not_delivered", notice_ids=ids)
        return
    collected.extend(ids)
