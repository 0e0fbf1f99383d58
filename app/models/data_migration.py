"""The data-migration ledger: which named data migration ran, when, on what.

``batch_hash`` fingerprints what a run processed (for ``remove_deprecated_models``, the
``DELETED_MODELS`` entries), so a batch can be proven processed long after the run, and
a changed batch is seen as not processed yet. This class declares the table for the
schema; ``app.data_migrations.ledger`` reads and writes it (with Core, so the same code
also runs inside Alembic revisions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.common import UTCDateTime


class DataMigration(Model):
    __tablename__ = "data_migrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    batch_hash: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<DataMigration {self.name} {self.batch_hash[:12]}>"
