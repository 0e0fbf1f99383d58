"""Admin users of the operator console and CLI."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.membership import AccountMember


class AdminUser(UserMixin, Model):
    """A user of the console and the management API: a platform admin (an operator), or
    a customer who sees only the accounts of their memberships. Flask-Login's mixin
    gives the session id (``get_id``)."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Part of the id in the signed session and remember cookies: bumping it (sign-out,
    # new password) makes every cookie issued before worthless, wherever it was copied.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    is_platform_admin: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Signed in, opened the console or used a token (at most one write a few minutes).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[AccountMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    def end_sessions(self) -> None:
        """Invalidate every session and remember cookie of this admin (not committed)."""
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        if self.id is not None:
            self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
