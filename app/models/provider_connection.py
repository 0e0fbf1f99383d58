"""An account's own model provider ("bring your own key"): an OpenAI-compatible server
or Anthropic, with its base URL and its API key sealed (``app.secret_box``).

``version`` grows with every change, so an adapter built for the connection (cached by
id and version, ``app.llm.registry``) is rebuilt once its URL or key changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow

CONNECTION_TYPES = ("openai", "anthropic")


class ProviderConnection(Model):
    __tablename__ = "provider_connections"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_provider_connections_account_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(16))  # one of CONNECTION_TYPES
    base_url: Mapped[str] = mapped_column(String(500), default="")
    api_key_sealed: Mapped[str] = mapped_column(Text, default="")  # "" when unset
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<ProviderConnection {self.name} ({self.type})>"
