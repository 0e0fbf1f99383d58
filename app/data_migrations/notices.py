"""Account notices written by data migrations.

``app.services.notifications.notify`` needs ORM objects, which a data migration inside an
Alembic revision must not load (see ``tables``); ``record_notice`` writes the same row
with Core, and the database's unique (account, dedupe key) constraint keeps it
idempotent. Webhooks and emails go out only after the transaction committed, so their
delivery is the caller's, above this package (``app.services.data_migrations``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from app.data_migrations.tables import notifications
from app.models.common import utcnow

# Both dialects' INSERT has on_conflict_do_nothing; the generic one has not.
_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


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
