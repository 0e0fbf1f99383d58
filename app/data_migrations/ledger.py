"""The ledger of data migrations (table ``data_migrations``): one row per name.

A row says "this batch was processed": ``batch_hash`` fingerprints the batch and
``details["batch"]`` keeps its items, so a later question such as "was this
``DELETED_MODELS`` entry processed here?" has an answer. A data migration counts as
applied only for the batch it recorded: when the batch changes (a release deletes more
models), it is pending again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.data_migrations.tables import data_migrations
from app.models.common import utcnow


@dataclass(frozen=True)
class Batch:
    """What a data migration processes: JSON-friendly items, in a canonical order."""

    items: tuple[Any, ...]

    @classmethod
    def of(cls, items: Iterable[Any]) -> Batch:
        return cls(tuple(sorted(items, key=_canonical)))

    @property
    def hash(self) -> str:
        return hashlib.sha256(_canonical(list(self.items)).encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    name: str
    applied_at: datetime
    batch_hash: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def faked(self) -> bool:
        """Marked applied by hand (``--fake``, ``mark``) rather than run."""
        return bool(self.details.get("faked"))

    @property
    def items(self) -> list[Any]:
        return list(self.details.get("batch", []))

    def covers(self, batch: Batch) -> bool:
        return self.batch_hash == batch.hash


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(row.name, row.applied_at, row.batch_hash, dict(row.details or {}))


def get(connection: Connection, name: str) -> LedgerEntry | None:
    row = connection.execute(
        select(data_migrations).where(data_migrations.c.name == name)
    ).one_or_none()
    return _entry(row) if row is not None else None


def entries(connection: Connection) -> list[LedgerEntry]:
    rows = connection.execute(select(data_migrations).order_by(data_migrations.c.name))
    return [_entry(row) for row in rows]


def record(
    connection: Connection, name: str, batch: Batch, details: dict[str, Any] | None = None
) -> LedgerEntry:
    """Record ``batch`` as processed by ``name`` now (replacing an older record)."""
    values: dict[str, Any] = {
        "applied_at": utcnow(),
        "batch_hash": batch.hash,
        "details": {**(details or {}), "batch": list(batch.items)},
    }
    updated = connection.execute(
        update(data_migrations).where(data_migrations.c.name == name).values(**values)
    )
    if not updated.rowcount:
        connection.execute(insert(data_migrations).values(name=name, **values))
    return LedgerEntry(name=name, **values)


def unmark(connection: Connection, name: str) -> bool:
    """Forget that ``name`` ran (it runs again next time); False when it had not."""
    return bool(
        connection.execute(delete(data_migrations).where(data_migrations.c.name == name)).rowcount
    )
