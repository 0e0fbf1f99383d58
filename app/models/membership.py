"""Account members: a user's role in one customer account, and personal access tokens.

Platform admins (``AdminUser.is_platform_admin``) see every account; any other user sees
only the accounts they are a member of, as ``owner`` (manages the members too) or
``member``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.user import AdminUser


class MemberRole(enum.StrEnum):
    OWNER = "owner"
    MEMBER = "member"


def _role_enum() -> Enum:
    return Enum(
        MemberRole,
        name="member_role",
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


class AccountMember(Model):
    __tablename__ = "account_members"
    __table_args__ = (UniqueConstraint("account_id", "user_id", name="uq_account_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MemberRole] = mapped_column(_role_enum())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    account: Mapped[Account] = relationship()
    user: Mapped[AdminUser] = relationship(back_populates="memberships")


class PersonalAccessToken(Model):
    """A user's token for the management API: shown once, only its SHA-256 stored."""

    __tablename__ = "personal_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[AdminUser] = relationship()


class IdempotentRequest(Model):
    """The answer to a creating POST sent with ``Idempotency-Key``, replayed on a retry."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotent_request"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # method, path and body hashed
    status: Mapped[int]
    body: Mapped[str] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccountInvitation(Model):
    """An emailed invitation to join an account: single use, expiring, token hashed,
    revocable (by an owner, and with its inviter's removal or demotion)."""

    __tablename__ = "account_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[MemberRole] = mapped_column(_role_enum())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    invited_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship()
