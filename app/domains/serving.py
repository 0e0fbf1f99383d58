"""The serving rule of a custom domain's client hosts, and which claim holds a name.

Pure: the rules read a domain's status and dates (a ``CustomDomain`` row, or the columns
the host index queries) and the clock and grace they are given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from app.models.domain import DomainStatus

FOREVER = datetime.max.replace(tzinfo=UTC)


class Claim(Protocol):
    """What the rules read of a claim (a ``CustomDomain`` row)."""

    @property
    def status(self) -> DomainStatus: ...

    @property
    def delegation_lost_at(self) -> datetime | None: ...

    @property
    def verify_deadline(self) -> datetime | None: ...


def serving_until(
    status: DomainStatus, delegation_lost_at: datetime | None, grace: timedelta
) -> datetime | None:
    """Until when a domain's client hosts are served: ``FOREVER`` while verified, the
    end of the grace period after a lost delegation, else None (not served)."""
    if status == DomainStatus.VERIFIED:
        return FOREVER
    if status == DomainStatus.FAILED and delegation_lost_at is not None:
        return delegation_lost_at + grace
    return None


def holds_name(claim: Claim, now: datetime, grace: timedelta) -> bool:
    """Whether this claim keeps other accounts off its name (and names inside or above
    it): while verified, and after a lost delegation while it is re-checked
    (``verify_deadline``) or still served (the grace). Unverified claims hold nothing:
    they never lock another account out."""
    if claim.status == DomainStatus.VERIFIED:
        return True
    if claim.status != DomainStatus.FAILED or claim.delegation_lost_at is None:
        return False
    until = serving_until(claim.status, claim.delegation_lost_at, grace)
    deadline = claim.verify_deadline
    return (deadline is not None and deadline > now) or (until is not None and until > now)


def custom_host_serving_until(
    client_name: str,
    domain: str | None,
    domain_status: DomainStatus | None,
    delegation_lost_at: datetime | None,
    grace: timedelta,
    live_hosts: list[str] | None,
    unmanaged: bool,
) -> tuple[str, datetime] | None:
    """The client's custom host and until when it is served, or None when it is not.

    Served while its domain is attached and served (verified, or lost within the grace
    period) and once the apply that creates its record succeeded (the host is in the
    client's ``live_hosts``); clients served without infrastructure (unmanaged) need no
    apply. The one rule for the host index and for what the CLI and console show."""
    if not domain or domain_status is None:
        return None
    host = f"{client_name}.{domain}".lower()
    if not unmanaged and host not in (live_hosts or ()):
        return None
    until = serving_until(domain_status, delegation_lost_at, grace)
    if until is None or until <= datetime.now(UTC):
        return None
    return host, until
