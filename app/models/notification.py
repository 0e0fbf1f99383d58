"""Notices to an account (a model retired, a domain's delegation lost, ...).

Each is a row the console shows; a ``dedupe_key`` makes a notice idempotent per account
(the same key is never stored twice), so callers may retry without telling anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account


class Notification(Model):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("account_id", "dedupe_key", name="uq_notifications_account_dedupe"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_error: Mapped[str] = mapped_column(Text, default="")

    account: Mapped[Account] = relationship(back_populates="notifications")

    def __repr__(self) -> str:
        return f"<Notification {self.kind} account={self.account_id}>"
