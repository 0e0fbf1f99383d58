"""LLM models: the database's copy of the catalog in ``app/llm/catalog.py``.

Clients reference a row, so the database itself guarantees that every client has a
model and that a model in use cannot be deleted (``ON DELETE RESTRICT`` on the client's
foreign key). Rows are written by the catalog sync and the retirement of deleted models,
never by hand.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow


class LlmModel(Model):
    __tablename__ = "llm_models"
    __table_args__ = (
        # A platform model once per provider; a connection's own model once per connection
        # (two accounts' vLLM servers may both serve "llama3").
        Index(
            "uq_llm_models_provider_name",
            "provider",
            "name",
            unique=True,
            sqlite_where=text("provider_connection_id IS NULL"),
            postgresql_where=text("provider_connection_id IS NULL"),
        ),
        Index("uq_llm_models_connection_name", "provider_connection_id", "name", unique=True),
        # At most one default per provider, whatever writes the rows.
        Index(
            "uq_llm_models_one_default",
            "provider",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    # None for a model the catalog never listed (kept from a client that used it).
    token_limit: Mapped[int | None] = mapped_column()
    deprecated: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    # A model a provider connection adds (its server's own model), offered only to the
    # clients of that connection's account; None for the platform's catalog.
    provider_connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<LlmModel {self.provider}/{self.name}{' deprecated' if self.deprecated else ''}>"
