"""Custom domains an account delegates to a hosted zone we create.

Lifecycle: ``pending`` (the zone is being provisioned) -> ``verifying`` (the zone exists,
the first delegation check is due) -> ``verified`` or ``failed`` after each check, with
the reason in ``last_check_result``. Failed domains are re-checked with backoff until
``verify_deadline``; verified ones every day. ``deleting`` while the zone is destroyed.
A verified domain whose delegation is lost keeps serving until ``delegation_lost_at``
plus the grace period (setting ``DOMAIN_GRACE_HOURS``).

Claims: several accounts may claim the same name (one row each, each with its own
zone); only a verified claim holds the name, and at most one claim of a name is
verified (a partial unique index). The rules (which claim holds a name, until when
hosts are served) are in :mod:`app.domains.serving`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.client import LlmClient


class DomainStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    FAILED = "failed"
    DELETING = "deleting"


VERIFIED_ONLY = text("status = 'verified'")


class CustomDomain(Model):
    __tablename__ = "custom_domains"
    __table_args__ = (
        UniqueConstraint("account_id", "domain", name="uq_custom_domains_account_id_domain"),
        Index(
            "uq_custom_domains_verified_domain",
            "domain",
            unique=True,
            sqlite_where=VERIFIED_ONLY,
            postgresql_where=VERIFIED_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), index=True)
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
    # Checks: how many failed in a row (the backoff step), when the next one is due, and
    # until when failed checks are retried (the verification window).
    failed_checks: Mapped[int] = mapped_column(default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verify_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delegation_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    account: Mapped[Account] = relationship(back_populates="domains")
    clients: Mapped[list[LlmClient]] = relationship(back_populates="custom_domain")

    @property
    def shown_status(self) -> str:
        """The status as people read it: a domain never verified whose checks fail while
        its verification window lasts (re-checks still scheduled) is ``waiting for
        delegation``, not ``failed``: right after its zone is made, the customer cannot
        have delegated yet. ``failed`` once the window is over, or a delegation was lost."""
        waiting = (
            self.status == DomainStatus.FAILED
            and self.verified_at is None
            and self.next_check_at is not None
        )
        return "waiting for delegation" if waiting else self.status.value

    @property
    def ever_verified(self) -> bool:
        """Client records in the zone exist once a domain was verified, and stay while it
        lives: a lost delegation only stops serving (after the grace), so fixing the
        delegation brings the hosts back with no new plan."""
        return self.verified_at is not None and self.status != DomainStatus.DELETING
