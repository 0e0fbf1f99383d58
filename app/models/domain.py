"""Custom domains an account delegates to a hosted zone we create (flow: its own issue)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.client import LlmClient


class DomainStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    FAILED = "failed"


class CustomDomain(db.Model):
    __tablename__ = "custom_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    status: Mapped[DomainStatus] = mapped_column(
        Enum(
            DomainStatus,
            name="domain_status",
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=DomainStatus.PENDING,
    )
    zone_id: Mapped[str | None] = mapped_column(String(64))
    name_servers: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_check_result: Mapped[str] = mapped_column(Text, default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    account: Mapped[Account] = relationship(back_populates="domains")
    clients: Mapped[list[LlmClient]] = relationship(back_populates="custom_domain")

    @property
    def is_verified(self) -> bool:
        return self.status == DomainStatus.VERIFIED
