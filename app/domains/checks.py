"""The rules of a delegation check: from the domain's state, DNS's answer and the clock,
what the domain becomes, whom to tell, and when to check next.

Pure: no database, queue or settings lookup, so the rules are tested on their own.
``app.services.domain_checks`` loads the domain, asks DNS, applies the ``Decision``,
stores the notices and schedules the next check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.domains.delegation import DelegationCheck, Outcome
from app.models.domain import DomainStatus


@dataclass(frozen=True)
class CheckRules:
    """When to check again: ``backoff`` (seconds after the 1st, 2nd... failed check in a
    row; the last repeats) while the verification window lasts, ``recheck`` once verified."""

    backoff: tuple[int, ...]
    recheck: timedelta
    verify_window: timedelta


class CheckedDomain(Protocol):
    """What the rules read of a domain (a ``CustomDomain`` row)."""

    @property
    def status(self) -> DomainStatus: ...

    @property
    def next_check_at(self) -> datetime | None: ...

    @property
    def verified_at(self) -> datetime | None: ...

    @property
    def delegation_lost_at(self) -> datetime | None: ...

    @property
    def failed_checks(self) -> int: ...

    @property
    def verify_deadline(self) -> datetime | None: ...


@dataclass(frozen=True)
class Decision:
    """The outcome of one check: the domain's new fields and what to tell its account."""

    result: DelegationCheck  # DNS's answer, unless another account holds the name
    status: DomainStatus
    failed_checks: int
    verified_at: datetime | None
    delegation_lost_at: datetime | None
    verify_deadline: datetime | None
    next_check_at: datetime | None  # None: no more automatic checks
    first_verification: bool  # attached clients get their custom hosts
    restored_after: datetime | None  # the delegation is back after it was lost then
    lost: bool  # a verified domain lost its delegation just now (the grace period starts)

    @property
    def verified(self) -> bool:
        """This check found the delegation: every other open claim of the name fails."""
        return self.result.outcome == Outcome.DELEGATED

    @property
    def gave_up(self) -> bool:
        """Failed, and the verification window is over: checks stop until asked again."""
        return self.next_check_at is None and self.status == DomainStatus.FAILED


def backoff_delays(delays: Sequence[int]) -> tuple[int, ...]:
    """The retry delays in seconds (``DOMAIN_CHECK_BACKOFF_SECONDS``); one minute when
    none are set."""
    return tuple(delays) or (60,)


def is_due(domain: CheckedDomain, scheduled_for: float) -> bool:
    """A job runs only if its time is still the domain's next check (else superseded)."""
    if domain.status == DomainStatus.DELETING or domain.next_check_at is None:
        return False
    return abs(domain.next_check_at.timestamp() - scheduled_for) < 0.001


def next_retry(
    status: DomainStatus,
    failed_checks: int,
    verify_deadline: datetime | None,
    now: datetime,
    rules: CheckRules,
) -> datetime | None:
    """Backoff while the verification window lasts; verified domains always retry."""
    delays = rules.backoff
    at = now + timedelta(seconds=delays[min(failed_checks, len(delays)) - 1])
    if status == DomainStatus.VERIFIED:
        return at
    if verify_deadline is None or at > verify_deadline:
        return None
    return at


def decide(
    domain: CheckedDomain,
    result: DelegationCheck,
    holder: str | None,
    now: datetime,
    rules: CheckRules,
) -> Decision:
    """What one check means. ``holder``: another account's verified claim of the name
    (or of one inside or above it), which makes a delegation to this zone count as not
    delegated. A definite "not delegated" fails the domain (a verified one starts its
    grace period); an unknown answer changes nothing but the backoff."""
    if result.outcome == Outcome.DELEGATED and holder is not None:
        result = DelegationCheck(
            Outcome.NOT_DELEGATED,
            f"{holder} is verified for another account; this claim can be verified "
            "once that one lapses",
        )
    if result.outcome == Outcome.DELEGATED:
        return Decision(
            result=result,
            status=DomainStatus.VERIFIED,
            failed_checks=0,
            verified_at=domain.verified_at or now,
            delegation_lost_at=None,
            verify_deadline=domain.verify_deadline,
            next_check_at=now + rules.recheck,
            first_verification=domain.verified_at is None,
            restored_after=domain.delegation_lost_at,
            lost=False,
        )
    status, lost_at, deadline = domain.status, domain.delegation_lost_at, domain.verify_deadline
    lost = False
    if result.outcome == Outcome.NOT_DELEGATED:
        if status == DomainStatus.VERIFIED:
            lost, lost_at, deadline = True, now, now + rules.verify_window
        status = DomainStatus.FAILED
    failed = domain.failed_checks + 1
    return Decision(
        result=result,
        status=status,
        failed_checks=failed,
        verified_at=domain.verified_at,
        delegation_lost_at=lost_at,
        verify_deadline=deadline,
        next_check_at=next_retry(status, failed, deadline, now, rules),
        first_verification=False,
        restored_after=None,
        lost=lost,
    )
