"""Delegation checks against a real DNS server on loopback, with a real Redis holding the
scheduled re-checks: status moves, reasons, backoff, daily re-checks, the grace period
of a lost delegation, and the notices the account gets. (Zones are rows here; the
terraform side is in test_domains_e2e.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.extensions import db
from app.hosts import HostIndex
from app.models import CustomDomain, DomainStatus, InfraRun, Notification
from app.models.common import utcnow
from app.queue import job_queue
from app.services.domain_checks import request_check, run_check, zone_ready
from jobs.verify_domain import verify_domain
from tests.conftest import CUSTOMER_DOMAIN
from tests.infra.conftest import domain_settings

GRACE_HOURS = 1
ZONE_NS = ["ns-1.awsdns-01.com", "ns-2.awsdns-02.net", "ns-3.awsdns-03.org"]


@pytest.fixture
def infra_settings(infra_settings, dev_dns):
    return {
        **infra_settings,
        **domain_settings(
            dev_dns, DOMAIN_CHECK_BACKOFF_SECONDS="60,300", DOMAIN_GRACE_HOURS=GRACE_HOURS
        ),
    }


@pytest.fixture
def domain(infra_app, account, make_client) -> CustomDomain:
    """example.test with its zone made, and a deployed client attached."""
    found = CustomDomain(account=account, domain="example.test")
    db.session.add(found)
    client = make_client(account, "bot")
    client.custom_domain = found
    db.session.commit()
    zone_ready(found, "Z0EXAMPLE", ZONE_NS)
    return found


def scheduled_checks() -> dict[str, float]:
    """The verify_domain jobs waiting in RQ's scheduler: {job id: seconds from now}."""
    registry = ScheduledJobRegistry(queue=job_queue())
    now = utcnow()
    return {
        job_id: (registry.get_scheduled_time(job_id) - now).total_seconds()
        for job_id in registry.get_job_ids()
    }


def served_hosts(app) -> set[str]:
    index = HostIndex.build(db.session, CUSTOMER_DOMAIN, 0, timedelta(hours=GRACE_HOURS))
    return {host for host in index.by_host if index.route_for(host)}


def notices(kind: str) -> list[Notification]:
    return list(db.session.execute(select(Notification).where(Notification.kind == kind)).scalars())


def test_a_new_zone_is_verifying_and_checked_at_once(domain):
    assert domain.status == DomainStatus.VERIFYING
    assert domain.next_check_at is not None
    queued = job_queue().get_job_ids()
    assert len(queued) == 1 and queued[0].startswith(f"domain-{domain.id}-check-")


def test_not_delegated_fails_with_the_reason_and_retries_with_backoff(domain, dev_dns):
    result = run_check(domain)
    assert domain.status == DomainStatus.FAILED
    assert "does not exist in DNS (NXDOMAIN)" in domain.last_check_result
    assert all(ns in domain.last_check_result for ns in ZONE_NS)
    assert result.missing == tuple(ZONE_NS)
    delays = list(scheduled_checks().values())
    assert len(delays) == 1 and 55 < delays[0] <= 60  # first backoff step

    dev_dns.delegate("example.test", [ZONE_NS[0], "ns1.parking.example"])
    run_check(domain)
    assert domain.status == DomainStatus.FAILED
    assert "missing name servers: ns-2.awsdns-02.net, ns-3.awsdns-03.org" in (
        domain.last_check_result
    )
    assert "extra name servers: ns1.parking.example" in domain.last_check_result
    assert sorted(round(d, -1) for d in scheduled_checks().values())[-1] == 300  # next step


def test_verified_serves_the_attached_client_and_plans_its_records(infra_app, domain, dev_dns):
    assert "bot.example.test" not in served_hosts(infra_app)
    dev_dns.delegate("example.test", ZONE_NS)
    run_check(domain)
    assert domain.status == DomainStatus.VERIFIED
    assert domain.verified_at is not None
    assert "bot.example.test" in served_hosts(infra_app)
    runs = db.session.execute(select(InfraRun)).scalars().all()
    assert [r.requested_by for r in runs] == ["domain verified: example.test"]
    assert runs[0].target_name == "bot"
    daily = [d for d in scheduled_checks().values() if d > 3600]
    assert len(daily) == 1 and abs(daily[0] - 24 * 3600) < 60
    assert (
        infra_app.test_client()
        .post(
            "/llm-client/",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"Host": "bot.example.test"},
        )
        .status_code
        == 200
    )


def test_a_lost_delegation_tells_the_account_and_stops_serving_after_the_grace(
    infra_app, domain, dev_dns
):
    dev_dns.delegate("example.test", ZONE_NS)
    run_check(domain)
    dev_dns.undelegate("example.test")
    run_check(domain)
    assert domain.status == DomainStatus.FAILED
    assert domain.delegation_lost_at is not None
    assert "bot.example.test" in served_hosts(infra_app)  # within the 1 h grace
    [lost] = notices("domain.delegation_lost")
    assert lost.account_id == domain.account_id
    assert "bot.example.test" in lost.body and "NXDOMAIN" in lost.body
    run_check(domain)  # still lost: not told twice
    assert len(notices("domain.delegation_lost")) == 1

    domain.delegation_lost_at = utcnow() - timedelta(hours=1, seconds=1)
    db.session.commit()
    assert "bot.example.test" not in served_hosts(infra_app)
    http = infra_app.test_client()
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    response = http.post("/llm-client/", json=chat, headers={"Host": "bot.example.test"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_host"

    dev_dns.delegate("example.test", ZONE_NS)
    run_check(domain)
    assert domain.status == DomainStatus.VERIFIED and domain.delegation_lost_at is None
    assert len(notices("domain.delegation_restored")) == 1
    assert (
        http.post("/llm-client/", json=chat, headers={"Host": "bot.example.test"}).status_code
        == 200
    )
    # Records were made at the first verification; a restored delegation needs no new run.
    assert len(db.session.execute(select(InfraRun)).scalars().all()) == 1


def test_an_unanswered_lookup_changes_nothing_but_retries(make_app, infra_settings, account):
    app = make_app(**{**infra_settings, "DNS_RESOLVER_PORT": 9, "DNS_TIMEOUT_SECONDS": 0.5})
    with app.app_context():
        found = CustomDomain(account_id=account.id, domain="example.test")
        db.session.add(found)
        db.session.commit()
        zone_ready(found, "Z0EXAMPLE", ZONE_NS)
        run_check(found)
        assert found.status == DomainStatus.VERIFYING
        assert "DNS lookup of example.test failed" in found.last_check_result
        assert len(scheduled_checks()) == 1
        db.session.remove()


def test_after_the_window_checks_stop_and_the_account_is_told(domain):
    domain.verify_deadline = utcnow() + timedelta(seconds=30)  # the next backoff is 60 s
    db.session.commit()
    run_check(domain)
    assert domain.status == DomainStatus.FAILED and domain.next_check_at is None
    assert scheduled_checks() == {}
    [gave_up] = notices("domain.verification_failed")
    assert "flask domains verify example.test" in gave_up.body
    request_check(domain)  # an operator's check reopens the window
    assert domain.verify_deadline > utcnow() + timedelta(hours=47)


def test_a_superseded_scheduled_check_does_nothing(domain, dev_dns):
    stale_time = domain.next_check_at.timestamp()
    request_check(domain)
    assert verify_domain(domain.id, stale_time) == "superseded"
    assert domain.last_checked_at is None
    assert verify_domain(domain.id, domain.next_check_at.timestamp()) == "failed"


RIVAL_NS = ["ns-7.awsdns-07.com", "ns-8.awsdns-08.net"]


def test_several_accounts_may_claim_a_name_and_the_first_to_verify_wins(infra_app, domain, dev_dns):
    """Issue 17, Medium 6: an unverified claim locked the name for every other account."""
    from app.errors import Conflict
    from app.services.accounts import create_account
    from app.services.domains import add_domain

    rival_account = create_account("Rival")
    rival, _ = add_domain(rival_account, "example.test")  # the first claim is unverified
    zone_ready(rival, "Z0RIVAL", RIVAL_NS)
    sub, _ = add_domain(rival_account, "shop.example.test")  # inside: an overlapping claim
    assert {d.account_id for d in (domain, rival, sub)} == {domain.account_id, rival_account.id}

    dev_dns.delegate("example.test", RIVAL_NS)  # the registrar points at the rival's zone
    run_check(rival)
    assert rival.status == DomainStatus.VERIFIED
    db.session.refresh(domain)
    assert domain.status == DomainStatus.FAILED and domain.next_check_at is None
    assert "verified first by another account" in domain.last_check_result
    [lost] = notices("domain.claim_lost")
    assert lost.account_id == domain.account_id and "example.test" in lost.subject
    assert "bot.example.test" not in served_hosts(infra_app)

    # The name is held now: nobody else may claim it or a name inside it.
    latecomer = create_account("Late")
    for name in ("example.test", "api.example.test"):
        with pytest.raises(Conflict, match="claimed by another account"):
            add_domain(latecomer, name)
    # A check of the losing claim cannot take the name while it is held.
    dev_dns.delegate("example.test", ZONE_NS)
    request_check(domain)
    run_check(domain)
    assert domain.status == DomainStatus.FAILED
    assert "verified for another account" in domain.last_check_result

    cli = infra_app.test_cli_runner()
    shown = cli.invoke(args=["domains", "show", "example.test"])
    assert shown.exit_code == 1 and "claimed by accounts" in shown.output
    mine = cli.invoke(
        args=["domains", "show", "example.test", "--account", rival_account.account_number]
    )
    assert mine.exit_code == 0 and "verified" in mine.output
