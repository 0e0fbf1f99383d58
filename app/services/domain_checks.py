"""Delegation checks of custom domains: run one, move the status, schedule the next.

A check asks DNS (:mod:`app.domains.delegation`) and moves the domain as the rules of
:mod:`app.domains.checks` decide (this module loads, stores, tells and schedules):
- delegated: ``verified``; the first time, its deployed clients get their custom hosts
  through new runs; after a lost delegation, the account is told it is back.
- not delegated: ``failed`` with the reason; a verified domain that loses its delegation
  keeps serving for the grace period and the account is told.
- unknown (timeout, SERVFAIL): nothing changes but the recorded result.
- claims: a delegation to this zone while another account holds the name counts as not
  delegated; the first verification of a name fails every other account's claim of it
  (or of a name inside or above it), and tells those accounts.

The next check is a time in the row (``next_check_at``) and a job scheduled for then
with RQ's scheduler (never a sleep in a worker): with backoff after a failure while the
verification window lasts, daily once verified. A scheduled job whose time is no longer
the row's (a manual check ran since) does nothing, so duplicates are harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis.exceptions import RedisError

from app.config import Settings, current_settings
from app.domains import checks
from app.domains.delegation import DelegationCheck, check_delegation, make_resolver
from app.errors import Conflict
from app.extensions import db
from app.logging_setup import get_logger
from app.models import CustomDomain, DomainStatus, LlmClient, Notification
from app.models.common import utcnow
from app.queue import JOBS, job_queue, reachable_queue
from app.services import notifications
from app.services.domains import holds_name, redeploy_attached_clients, rival_claims

log = get_logger("chatdock.domains")


def check_rules(settings: Settings) -> checks.CheckRules:
    return checks.CheckRules(
        backoff=checks.backoff_delays(settings.DOMAIN_CHECK_BACKOFF_SECONDS),
        recheck=timedelta(hours=settings.DOMAIN_RECHECK_HOURS),
        verify_window=timedelta(hours=settings.DOMAIN_VERIFY_WINDOW_HOURS),
    )


def zone_ready(domain: CustomDomain, zone_id: str, name_servers: list[str]) -> None:
    """The zone exists: record it, open the verification window, check at once."""
    settings = current_settings()
    now = utcnow()
    domain.zone_id = zone_id
    domain.name_servers = sorted(name_servers)
    domain.status = DomainStatus.VERIFYING
    domain.failed_checks = 0
    domain.verify_deadline = now + timedelta(hours=settings.DOMAIN_VERIFY_WINDOW_HOURS)
    domain.last_check_result = "waiting for the first delegation check"
    schedule_check(domain, now)


def due_domain(domain_id: int, scheduled_for: float) -> CustomDomain | None:
    """The domain a scheduled check is for, while that check is still its next one;
    None when the domain is gone or another check superseded this one."""
    domain = db.session.get(CustomDomain, domain_id)
    return domain if domain is not None and checks.is_due(domain, scheduled_for) else None


def last_checked(domain: CustomDomain) -> datetime | None:
    """When the domain's delegation was last checked, as the database has it now (a
    worker checks it while someone waits)."""
    db.session.refresh(domain)
    return domain.last_checked_at


def request_check(domain: CustomDomain) -> None:
    """Check now, in a worker (``flask domains verify``): the customer says the NS records
    are fixed, so the backoff and the verification window start over."""
    settings = current_settings()
    if domain.status in (DomainStatus.PENDING, DomainStatus.DELETING) or not domain.zone_id:
        raise Conflict(
            f"{domain.domain} has no zone yet ({domain.status.value}): its zone is made by "
            "the run that `flask domains add` started"
        )
    reachable_queue()  # before any change: an unreachable Redis changes nothing
    now = utcnow()
    domain.verify_deadline = now + timedelta(hours=settings.DOMAIN_VERIFY_WINDOW_HOURS)
    domain.failed_checks = 0
    schedule_check(domain, now)


def schedule_check(domain: CustomDomain, at: datetime) -> None:
    """Commit ``next_check_at`` and hand RQ's scheduler a job for that time."""
    domain.next_check_at = at
    db.session.commit()
    enqueue_check(domain.id, at)


def check_job_id(domain_id: int, at: datetime) -> str:
    return f"domain-{domain_id}-check-{at.timestamp():.0f}"


def enqueue_check(domain_id: int, at: datetime) -> None:
    """A verify job for ``at`` (now, or through RQ's scheduler); the row already says it.
    Should Redis fail, the row still has the time: the reconciler re-arms the check."""
    queue = job_queue()
    job_id = check_job_id(domain_id, at)
    try:
        if at <= utcnow():
            queue.enqueue(JOBS["verify_domain"], domain_id, at.timestamp(), job_id=job_id)
        else:
            queue.enqueue_at(at, JOBS["verify_domain"], domain_id, at.timestamp(), job_id=job_id)
    except RedisError as error:
        log.warning("domain_check_not_enqueued", domain_id=domain_id, error=type(error).__name__)


def run_check(domain: CustomDomain) -> DelegationCheck:
    """Ask DNS now, move the domain, tell the account, schedule the next check."""
    settings = current_settings()
    resolver = make_resolver(
        settings.DNS_RESOLVER_ADDRESS, settings.DNS_RESOLVER_PORT, settings.DNS_TIMEOUT_SECONDS
    )
    result = check_delegation(resolver, domain.domain, domain.name_servers)
    rivals = rival_claims(domain)
    holder = next((rival for rival in rivals if holds_name(rival)), None)
    now = utcnow()
    decision = checks.decide(
        domain, result, holder.domain if holder else None, now, check_rules(settings)
    )
    result = decision.result
    notices: list[Notification | None] = []
    domain.last_checked_at = now
    domain.last_check_result = result.reason
    if decision.restored_after is not None:
        notices.append(_notice_restored(domain, decision.restored_after))
    domain.status = decision.status
    domain.failed_checks = decision.failed_checks
    domain.verified_at = decision.verified_at
    domain.delegation_lost_at = decision.delegation_lost_at
    domain.verify_deadline = decision.verify_deadline
    domain.next_check_at = next_at = decision.next_check_at
    if decision.lost:
        notices.append(_notice_lost(domain, now, result, settings))
    if decision.verified and domain.verified_at is not None:
        verified_at = domain.verified_at
        notices += [_lose_claim(rival, domain, verified_at) for rival in rivals if _is_open(rival)]
    if decision.gave_up:
        notices.append(_notice_gave_up(domain, domain.verify_deadline or now))
    db.session.commit()  # one commit: the result, the status and the next check
    notifications.deliver(notices)
    log.info(
        "domain_checked",
        domain=domain.domain,
        outcome=result.outcome.value,
        status=domain.status.value,
        reason=result.reason,
        next_check_at=next_at.isoformat() if next_at else None,
    )
    if next_at is not None:
        enqueue_check(domain.id, next_at)
    if decision.first_verification:
        redeploy_attached_clients(domain, "verified")
    return result


def _is_open(claim: CustomDomain) -> bool:
    return claim.status not in (DomainStatus.DELETING, DomainStatus.VERIFIED)


def _lose_claim(
    claim: CustomDomain, winner: CustomDomain, verified_at: datetime
) -> Notification | None:
    """Another account verified first: this claim fails, its checks stop (its account
    may delete it, or run `flask domains verify` once the winner's claim lapses)."""
    claim.status = DomainStatus.FAILED
    claim.next_check_at = None
    claim.last_check_result = f"{winner.domain} was verified first by another account"
    return notifications.notify(
        claim.account,
        "domain.claim_lost",
        f"{claim.domain} was verified by another account",
        f"Another account delegated {winner.domain} to its zone first, so it holds the "
        f"name and your claim of {claim.domain} has failed. Delete it with: flask domains "
        f"delete {claim.domain} --account {claim.account.account_number}",
        data={"domain": claim.domain, "winner": winner.domain},
        dedupe_key=f"domain-claim-lost:{claim.id}:{winner.id}:{verified_at.isoformat()}",
    )


def _notice_lost(
    domain: CustomDomain, lost_at: datetime, result: DelegationCheck, settings: Settings
) -> Notification | None:
    grace_end = lost_at + timedelta(hours=settings.DOMAIN_GRACE_HOURS)
    hosts = ", ".join(f"{c.name}.{domain.domain}" for c in sorted(domain.clients, key=_name))
    return notifications.notify(
        domain.account,
        "domain.delegation_lost",
        f"The delegation of {domain.domain} is gone",
        f"{result.reason}.\nIts hosts ({hosts or 'none attached'}) are "
        f"served until {grace_end:%Y-%m-%d %H:%M} UTC, then stop until the delegation "
        "is back.",
        data={
            "domain": domain.domain,
            "reason": result.reason,
            "serving_until": grace_end.isoformat(),
        },
        dedupe_key=f"domain-lost:{domain.id}:{lost_at.isoformat()}",
    )


def _notice_restored(domain: CustomDomain, lost_at: datetime) -> Notification | None:
    return notifications.notify(
        domain.account,
        "domain.delegation_restored",
        f"The delegation of {domain.domain} is back",
        f"{domain.domain} is delegated to its zone again; its hosts are served.",
        data={"domain": domain.domain},
        dedupe_key=f"domain-restored:{domain.id}:{lost_at.isoformat()}",
    )


def _notice_gave_up(domain: CustomDomain, deadline: datetime) -> Notification | None:
    return notifications.notify(
        domain.account,
        "domain.verification_failed",
        f"{domain.domain} could not be verified",
        f"{domain.last_check_result}.\nNo more automatic checks; after fixing the NS "
        f"records run: flask domains verify {domain.domain}",
        data={"domain": domain.domain, "reason": domain.last_check_result},
        dedupe_key=f"domain-gave-up:{domain.id}:{deadline.isoformat()}",
    )


def _name(client: LlmClient) -> str:
    return client.name
