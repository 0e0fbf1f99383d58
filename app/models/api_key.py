"""API keys: shown once, stored as a hash, owned by one account, optionally scoped.

A key opens every client of its account only when ``all_clients`` says so. A scoped key
keeps its clients in ``api_key_clients``; deleting a client removes its rows there, so a
scope can only narrow: a scoped key whose clients are all gone opens nothing (an empty
scope never means "all")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.client import LlmClient

api_key_clients = Table(
    "api_key_clients",
    db.metadata,
    Column("api_key_id", ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", ForeignKey("llm_clients.id", ondelete="CASCADE"), primary_key=True),
)


class ApiKey(Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    all_clients: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Rate limits of this key (None: none), counted in Redis per minute.
    requests_per_minute: Mapped[int | None] = mapped_column()
    tokens_per_minute: Mapped[int | None] = mapped_column()

    account: Mapped[Account] = relationship(back_populates="api_keys")
    clients: Mapped[list[LlmClient]] = relationship(secondary=api_key_clients)

    @property
    def scope_label(self) -> str:
        """What the key opens, as listings show it."""
        if self.all_clients:
            return "all clients"
        return ", ".join(c.name for c in self.clients) or "no clients (its clients were deleted)"
