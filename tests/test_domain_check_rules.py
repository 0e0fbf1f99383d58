"""The rules of a delegation check, on their own (no database, DNS or queue): what a
domain becomes after DNS's answer, whom the account hears about, when the next check is.
The same rules against real DNS and Redis: tests/infra/test_domain_checks.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domains.checks import CheckRules, backoff_delays, decide, is_due, next_retry
from app.domains.delegation import DelegationCheck, Outcome
from app.domains.serving import FOREVER, holds_name, serving_until
from app.models.domain import DomainStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = CheckRules(backoff=(60, 300), recheck=timedelta(hours=24), verify_window=timedelta(hours=2))
DELEGATED = DelegationCheck(Outcome.DELEGATED, "example.test is delegated to ns-1")
NOT_DELEGATED = DelegationCheck(Outcome.NOT_DELEGATED, "example.test has no NS records")
UNKNOWN = DelegationCheck(Outcome.UNKNOWN, "the DNS lookup of example.test failed")


@dataclass
class State:
    status: DomainStatus = DomainStatus.VERIFYING
    next_check_at: datetime | None = NOW
    verified_at: datetime | None = None
    delegation_lost_at: datetime | None = None
    failed_checks: int = 0
    verify_deadline: datetime | None = NOW + timedelta(hours=2)


def verified(**fields: object) -> State:
    """A domain verified three days ago, with ``fields`` changed."""
    state = State(status=DomainStatus.VERIFIED, verified_at=NOW - timedelta(days=3))
    state.__dict__.update(fields)
    return state


def test_a_first_delegation_verifies_and_rechecks_daily():
    decision = decide(State(failed_checks=2), DELEGATED, None, NOW, RULES)
    assert decision.status == DomainStatus.VERIFIED and decision.verified
    assert decision.first_verification and decision.verified_at == NOW
    assert decision.failed_checks == 0
    assert decision.next_check_at == NOW + timedelta(hours=24)
    assert decision.restored_after is None and not decision.lost and not decision.gave_up


def test_a_name_held_by_another_account_is_not_delegated_whatever_dns_says():
    decision = decide(State(), DELEGATED, "example.test", NOW, RULES)
    assert decision.result.outcome == Outcome.NOT_DELEGATED
    assert "example.test is verified for another account" in decision.result.reason
    assert decision.status == DomainStatus.FAILED and not decision.verified
    assert not decision.first_verification and decision.verified_at is None
    assert decision.next_check_at == NOW + timedelta(seconds=60)


def test_a_verified_domain_losing_its_delegation_starts_the_grace_period():
    decision = decide(verified(), NOT_DELEGATED, None, NOW, RULES)
    assert decision.status == DomainStatus.FAILED and decision.lost
    assert decision.delegation_lost_at == NOW
    assert decision.verify_deadline == NOW + timedelta(hours=2)
    assert decision.verified_at == NOW - timedelta(days=3)  # kept: it was verified once
    assert decision.next_check_at == NOW + timedelta(seconds=60)


def test_a_delegation_back_after_a_loss_is_told_and_not_a_first_verification():
    lost_at = NOW - timedelta(minutes=30)
    state = verified(delegation_lost_at=lost_at, failed_checks=3)
    state.status = DomainStatus.FAILED
    decision = decide(state, DELEGATED, None, NOW, RULES)
    assert decision.restored_after == lost_at
    assert decision.delegation_lost_at is None and decision.failed_checks == 0
    assert not decision.first_verification and decision.verified_at == NOW - timedelta(days=3)


def test_an_unknown_answer_changes_no_status_and_claims_nothing():
    decision = decide(verified(), UNKNOWN, None, NOW, RULES)
    assert decision.status == DomainStatus.VERIFIED
    assert not decision.verified and not decision.lost and not decision.first_verification
    assert decision.failed_checks == 1
    assert decision.next_check_at == NOW + timedelta(seconds=60)


def test_failures_back_off_then_stop_at_the_end_of_the_window():
    second = decide(
        State(status=DomainStatus.FAILED, failed_checks=1), NOT_DELEGATED, None, NOW, RULES
    )
    assert second.next_check_at == NOW + timedelta(seconds=300)
    assert not second.gave_up
    late = State(
        status=DomainStatus.FAILED, failed_checks=5, verify_deadline=NOW + timedelta(seconds=200)
    )
    last = decide(late, NOT_DELEGATED, None, NOW, RULES)
    assert last.next_check_at is None and last.gave_up


def test_a_verified_domain_retries_past_its_window_and_never_gives_up():
    at = next_retry(DomainStatus.VERIFIED, 9, NOW - timedelta(days=1), NOW, RULES)
    assert at == NOW + timedelta(seconds=300)  # the last delay repeats
    assert next_retry(DomainStatus.VERIFYING, 1, None, NOW, RULES) is None


def test_only_the_job_for_the_domains_next_check_is_due():
    state = State(next_check_at=NOW)
    assert is_due(state, NOW.timestamp())
    assert not is_due(state, NOW.timestamp() - 60)  # a manual check moved the time since
    assert not is_due(State(next_check_at=None), NOW.timestamp())
    assert not is_due(State(status=DomainStatus.DELETING), NOW.timestamp())


def test_backoff_setting():
    assert backoff_delays([60, 300]) == (60, 300)
    assert backoff_delays([]) == (60,)


GRACE = timedelta(hours=1)


def test_who_holds_a_name_and_until_when_hosts_are_served_on_plain_values():
    """The rules live in app.domains.serving and read any claim (here not a row)."""
    lost = verified(status=DomainStatus.FAILED, delegation_lost_at=NOW, verify_deadline=None)
    assert holds_name(verified(), NOW, GRACE)
    assert serving_until(DomainStatus.VERIFIED, None, GRACE) == FOREVER
    # A lost delegation holds the name and serves through the grace, then neither.
    assert holds_name(lost, NOW + GRACE / 2, GRACE)
    assert serving_until(lost.status, lost.delegation_lost_at, GRACE) == NOW + GRACE
    assert not holds_name(lost, NOW + GRACE * 2, GRACE)
    # ...unless it is still re-checked within its verification window.
    rechecked = verified(**{**lost.__dict__, "verify_deadline": NOW + GRACE * 3})
    assert holds_name(rechecked, NOW + GRACE * 2, GRACE)
    # A claim never verified holds nothing and serves nothing.
    assert not holds_name(State(status=DomainStatus.FAILED), NOW, GRACE)
    assert serving_until(DomainStatus.FAILED, None, GRACE) is None
