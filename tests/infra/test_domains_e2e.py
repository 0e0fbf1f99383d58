"""A custom domain end to end, as an operator and a customer would go through it: real
terraform against moto's server, a real DNS server on loopback playing the customer's
registrar, a real worker process with RQ's scheduler running the re-checks."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CustomDomain, DomainStatus, InfraRun, Notification, RunStatus
from tests.infra.conftest import a_records, domain_settings, wait_until

pytestmark = pytest.mark.one_machine  # SQLite pass only (tests/conftest.py)

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def infra_settings(infra_settings, dev_dns):
    return {
        **infra_settings,
        **domain_settings(dev_dns, DOMAIN_CHECK_BACKOFF_SECONDS="2", DOMAIN_GRACE_HOURS=0),
    }


def wait_for_domain(domain_id: int, done, timeout: float = 60) -> CustomDomain:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        domain = db.session.get(CustomDomain, domain_id)
        if domain is not None and done(domain):
            return domain
        time.sleep(0.3)
    raise AssertionError(
        f"domain {domain_id} not there after {timeout}s: {domain and domain.status}"
    )


def latest_run() -> InfraRun:
    db.session.expire_all()
    return db.session.execute(select(InfraRun).order_by(InfraRun.id.desc()).limit(1)).scalar_one()


def first_run_of(client_id: int, timeout: float = 30) -> InfraRun:
    """The client's first run: requested by the worker right after it verified the domain
    (just after the domain's own commit, so poll for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        run = (
            db.session.execute(
                select(InfraRun).where(InfraRun.client_id == client_id).order_by(InfraRun.id)
            )
            .scalars()
            .first()
        )
        if run is not None:
            return run
        time.sleep(0.3)
    raise AssertionError(f"no run for client {client_id} after {timeout}s")


def invoke(cli, *args: str, exit_code: int = 0) -> str:
    result = cli.invoke(args=list(args))
    assert result.exit_code == exit_code, result.output
    return result.output


def test_custom_domain_from_add_to_delete(
    infra_app, worker_process, account, make_client, route53, dev_dns
):
    number = account.account_number
    client = make_client(account, "bot")  # served on its default host already
    client_id = client.id
    cli, http = infra_app.test_cli_runner(), infra_app.test_client()
    worker_process()

    # add: the zone's plan is reviewed like a client's, then applied
    output = invoke(cli, "domains", "add", "Example.TEST", "--account", number, "--wait")
    assert "awaiting_approval" in output and "aws_route53_zone" in output
    zone_run = latest_run()
    output = invoke(cli, "infra", "approve", str(zone_run.id), "--wait")
    domain = db.session.execute(select(CustomDomain)).scalar_one()
    domain_id = domain.id
    assert domain.domain == "example.test" and len(domain.name_servers) >= 2
    for ns in domain.name_servers:
        assert f"example.test.  NS  {ns}." in output
    zone_id = domain.zone_id
    zone = route53.get_hosted_zone(Id=zone_id)
    assert zone["HostedZone"]["Name"] == "example.test."
    assert sorted(zone["DelegationSet"]["NameServers"]) == domain.name_servers

    # the first check runs by itself: not delegated yet
    domain = wait_for_domain(domain_id, lambda d: d.last_checked_at is not None)
    assert domain.status == DomainStatus.FAILED
    assert "NXDOMAIN" in domain.last_check_result
    output = invoke(cli, "domains", "show", "example.test")
    assert "status:       waiting for delegation" in output and "NXDOMAIN" in output

    output = invoke(
        cli, "domains", "attach", "example.test", "--client", "bot", "--account", number
    )
    assert "served there once example.test is verified" in output

    # the customer delegates; a re-check scheduled by RQ's scheduler verifies it
    dev_dns.delegate("example.test", domain.name_servers)
    domain = wait_for_domain(domain_id, lambda d: d.status == DomainStatus.VERIFIED)
    assert "is delegated to" in domain.last_check_result

    # the attached client gets its record on the custom domain through a reviewed run
    client_run = wait_until(
        first_run_of(client_id).id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED}
    )
    assert client_run.requested_by == "domain verified: example.test"
    assert "bot.example.test" in client_run.plan_text
    invoke(cli, "infra", "approve", str(client_run.id), "--wait")
    records = a_records(route53, domain.zone_id, "bot.example.test")
    assert records and records[0]["ResourceRecords"] == [{"Value": "127.0.0.1"}]
    response = http.post("/llm-client/", json=CHAT, headers={"Host": "bot.example.test"})
    assert response.status_code == 200, response.get_json()
    output = invoke(cli, "clients", "show", "bot", "--account", number)
    assert f"serving:          live on bot.example.test, bot.{number}." in output
    endpoints = output.split("endpoints:", 1)[1]
    assert endpoints.index("bot.example.test/llm-client/") < endpoints.index(f"bot.{number}.")

    # the delegation goes away: the re-check fails, the host stops (grace 0), account told
    dev_dns.undelegate("example.test")
    output = invoke(cli, "domains", "verify", "example.test", "--wait", exit_code=1)
    assert "failed" in output and "NXDOMAIN" in output
    response = http.post("/llm-client/", json=CHAT, headers={"Host": "bot.example.test"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_host"
    default_host = f"bot.{number}.api.chatdock.test"
    assert http.post("/llm-client/", json=CHAT, headers={"Host": default_host}).status_code == 200
    notice = db.session.execute(select(Notification)).scalar_one()
    assert notice.kind == "domain.delegation_lost" and "example.test" in notice.subject

    # delete: refused while attached; detach (record removed), then the zone is destroyed
    output = invoke(cli, "domains", "delete", "example.test", "--yes", exit_code=1)
    assert "used by client(s) bot" in output
    invoke(cli, "domains", "detach", "--client", "bot", "--account", number)
    detach_run = wait_until(latest_run().id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED})
    assert detach_run.client_id == client_id
    invoke(cli, "infra", "approve", str(detach_run.id), "--wait")
    assert a_records(route53, domain.zone_id, "bot.example.test") == []
    invoke(cli, "domains", "delete", "example.test", "--yes", "--wait")
    db.session.expire_all()
    assert db.session.execute(select(CustomDomain)).scalar_one_or_none() is None
    zones = route53.list_hosted_zones()["HostedZones"]
    assert all(z["Id"].rsplit("/", 1)[-1] != zone_id for z in zones)
