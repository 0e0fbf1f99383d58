"""A live client's custom host: served only once the apply that creates its record
succeeded (a domain verified, an attach to a verified domain), refused from the moment
of a detach; the default host answers throughout. Real terraform against moto, a real
DNS server on loopback as the registrar, a real worker process, and a chat loop."""

from __future__ import annotations

import time
from datetime import UTC

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CustomDomain, DomainStatus, InfraRun, RunStatus
from app.services import domain_checks, infra
from app.services import domains as domain_service
from tests.conftest import host_of
from tests.infra.chat_loop import ChatLoop
from tests.infra.conftest import a_records, domain_settings, fresh, wait_until

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


SETTLED = {RunStatus.AWAITING_APPROVAL, RunStatus.APPLIED, RunStatus.ERRORED}


@pytest.fixture
def infra_settings(infra_settings, dev_dns):
    return {**infra_settings, **domain_settings(dev_dns, DOMAIN_CHECK_BACKOFF_SECONDS="2")}


def next_run_of(client_id: int, after: int, timeout: float = 60) -> InfraRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        run = db.session.execute(
            select(InfraRun)
            .where(InfraRun.client_id == client_id, InfraRun.id > after)
            .order_by(InfraRun.id)
        ).scalar()
        if run is not None:
            return run
        time.sleep(0.2)
    raise AssertionError(f"no new run of client {client_id} after {timeout}s")


def epoch(run: InfraRun) -> float:
    assert run.finished_at is not None
    return run.finished_at.replace(tzinfo=run.finished_at.tzinfo or UTC).timestamp()


def test_custom_hosts_follow_applies_and_detach_fails_closed(
    infra_app, worker_process, account, make_client, route53, zone_id, dev_dns
):
    client = make_client(account, "web", deployed=False)
    client_id, host = client.id, host_of(client)
    worker_process()
    first = infra.request_deploy(client, auto_approve=True)
    assert wait_until(first.id, SETTLED).status == RunStatus.APPLIED
    domain, zone_run = domain_service.add_domain(account, "shop.example.test", auto_approve=True)
    assert wait_until(zone_run.id, SETTLED).status == RunStatus.APPLIED
    domain = db.session.get(CustomDomain, domain.id)
    custom = f"web.{domain.domain}"
    assert domain_service.attach_client(domain, fresh(client_id)) is None  # not verified yet
    loop = ChatLoop(infra_app, [host, custom])
    loop.start()
    started = time.time()
    try:
        # The domain is verified: the client's new run waits for review; the custom
        # host is not served before its apply.
        dev_dns.delegate(domain.domain, domain.name_servers)
        domain_checks.request_check(db.session.get(CustomDomain, domain.id))
        verified_run = next_run_of(client_id, first.id)
        verified_run = wait_until(verified_run.id, SETTLED)
        assert verified_run.status == RunStatus.AWAITING_APPROVAL, verified_run.log
        db.session.expire_all()
        assert db.session.get(CustomDomain, domain.id).status == DomainStatus.VERIFIED
        loop.wait_for_samples(custom, time.time())
        loop.assert_refused(custom, started)
        infra.approve_run(verified_run.id)
        verified_run = wait_until(verified_run.id, SETTLED)
        assert verified_run.status == RunStatus.APPLIED, verified_run.log
        applied_at = epoch(verified_run)
        loop.wait_for_samples(custom, applied_at + 1.0)
        loop.assert_refused(custom, started, applied_at)
        assert loop.first_served(custom) >= applied_at
        loop.assert_served(custom, applied_at + 1.0)
        assert len(a_records(route53, domain.zone_id, custom)) == 1

        # Detach: refused from the moment of the request; the record goes with a run.
        detach = domain_service.detach_client(fresh(client_id))
        detached_at = time.time()
        assert detach is not None
        assert wait_until(detach.id, SETTLED).status == RunStatus.AWAITING_APPROVAL
        loop.wait_for_samples(custom, detached_at)
        loop.assert_refused(custom, detached_at)
        infra.approve_run(detach.id)
        assert wait_until(detach.id, SETTLED).status == RunStatus.APPLIED
        assert a_records(route53, domain.zone_id, custom) == []

        # Attach to the verified domain: again, served only after its apply.
        attach = domain_service.attach_client(
            db.session.get(CustomDomain, domain.id), fresh(client_id)
        )
        attached_at = time.time()
        assert attach is not None
        assert wait_until(attach.id, SETTLED).status == RunStatus.AWAITING_APPROVAL
        loop.wait_for_samples(custom, time.time())
        loop.assert_refused(custom, attached_at)
        infra.approve_run(attach.id)
        attach = wait_until(attach.id, SETTLED)
        assert attach.status == RunStatus.APPLIED, attach.log
        loop.wait_for_samples(custom, epoch(attach) + 1.0)
        loop.assert_served(custom, epoch(attach) + 1.0)
        loop.assert_refused(custom, attached_at, epoch(attach))

        # The default host answered throughout.
        assert loop.assert_served(host, started) > 20
    finally:
        loop.stop()
        db.session.remove()
