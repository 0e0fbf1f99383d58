"""Accounts: the customers. Their number is random, unique and never changes."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow
from app.names import is_account_number

if TYPE_CHECKING:
    from app.models.api_key import ApiKey
    from app.models.client import LlmClient
    from app.models.domain import CustomDomain
    from app.models.notification import Notification


def generate_account_number() -> str:
    """A random ``####-####-####`` number (uniqueness is enforced by the database)."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return f"{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"


class Account(Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(14), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # Tokens (prompt + completion) per calendar month (UTC); None: no budget.
    monthly_token_budget: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    clients: Mapped[list[LlmClient]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )
    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )
    domains: Mapped[list[CustomDomain]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )
    notifications: Mapped[list[Notification]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Notification.id",
    )

    @validates("account_number")
    def _immutable_number(self, key: str, value: str) -> str:
        if self.account_number is not None and value != self.account_number:
            raise ValueError("account_number never changes")
        if not is_account_number(value):
            raise ValueError(f"invalid account number {value!r}")
        return value

    def __repr__(self) -> str:
        return f"<Account {self.account_number} {self.name!r}>"
