"""A live client stays live through every kind of change (issue: no pending, failed or
discarded change takes it offline): real terraform against moto, real Redis, real
worker processes, and a chat loop hitting the client's host for the whole scenario.

Triggers: a redeploy with a changed setting (discarded, then approved), a redeploy that
fails (AWS endpoint down), a drift check with changes, a model change; then an undeploy,
refused from the moment it is requested."""

from __future__ import annotations

import signal
import time

import pytest

from app.extensions import db
from app.models import DeploymentStatus, RunStatus
from app.services import clients as client_service
from app.services import infra
from tests.conftest import host_of
from tests.infra.chat_loop import ChatLoop
from tests.infra.conftest import a_records, fresh, wait_until

pytestmark = pytest.mark.workers  # the PostgreSQL pass of scripts/test runs them


SETTLED = {RunStatus.AWAITING_APPROVAL, RunStatus.APPLIED, RunStatus.ERRORED}


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_live_client_keeps_answering_through_every_change(
    infra_app, make_app, infra_settings, worker_process, account, make_client, route53, zone_id
):
    client = make_client(account, "steady", deployed=False)
    client_id, host, number = client.id, host_of(client), account.account_number
    worker = worker_process()
    first = infra.request_deploy(client, auto_approve=True)
    assert wait_until(first.id, SETTLED).status == RunStatus.APPLIED
    loop = ChatLoop(infra_app, [host])
    loop.start()
    started = time.time()
    try:
        # 1. A changed setting (the record's TTL): the redeploy waits for review.
        stop(worker)
        ttl = {**infra_settings, "DNS_TTL": 120}
        worker = worker_process(ttl)
        changed = make_app(**ttl)
        with changed.app_context():
            run = infra.request_deploy(fresh(client_id))
            run = wait_until(run.id, SETTLED)
            assert run.status == RunStatus.AWAITING_APPROVAL, run.log
            assert [c["action"] for c in run.plan_summary["changes"]] == ["update"]
            shown = changed.test_cli_runner().invoke(
                args=["clients", "show", "steady", "--account", number]
            )
            assert f"deployed, change awaiting review (run {run.id})" in shown.output
            assert f"live on {host}" in shown.output
            infra.discard_run(run.id)  # discarded: nothing changes
            assert a_records(route53, zone_id, host)[0]["TTL"] == 300
            loop.wait_for_samples(host, time.time())

            run = infra.request_deploy(fresh(client_id))
            assert wait_until(run.id, SETTLED).status == RunStatus.AWAITING_APPROVAL
            infra.approve_run(run.id)
            assert wait_until(run.id, SETTLED).status == RunStatus.APPLIED
            assert a_records(route53, zone_id, host)[0]["TTL"] == 120

        # 2. A redeploy that fails: the AWS endpoint is down.
        stop(worker)
        down = {**ttl, "AWS_ENDPOINT_URL": closed_port_url(), "AWS_MAX_ATTEMPTS": 1}
        worker = worker_process(down)
        failing = infra.request_deploy(fresh(client_id), drift_check=True)
        failing = wait_until(failing.id, SETTLED, timeout=300)
        assert failing.status == RunStatus.ERRORED, failing.log
        shown = infra_app.test_cli_runner().invoke(
            args=["clients", "show", "steady", "--account", number]
        )
        assert f"deployed, last change failed (run {failing.id})" in shown.output
        assert fresh(client_id).deployment_status == DeploymentStatus.DEPLOYED

        # 3. A drift check that finds a change made behind our back.
        stop(worker)
        worker = worker_process(ttl)
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": host,
                            "Type": "A",
                            "TTL": 120,
                            "ResourceRecords": [{"Value": "192.0.2.10"}],
                        },
                    }
                ]
            },
        )
        with changed.app_context():
            drift = infra.request_deploy(fresh(client_id), drift_check=True)
            drift = wait_until(drift.id, SETTLED)
            assert drift.status == RunStatus.AWAITING_APPROVAL, drift.log
            assert [c["action"] for c in drift.plan_summary["changes"]] == ["update"]
            infra.approve_run(drift.id)
            assert wait_until(drift.id, SETTLED).status == RunStatus.APPLIED
        record = a_records(route53, zone_id, host)[0]
        assert record["ResourceRecords"] == [{"Value": "127.0.0.1"}]

        # 4. A model change: chat settings apply at the next request, no run.
        add = infra_app.test_cli_runner().invoke(args=["models", "add", "echo", "echo-2"])
        assert add.exit_code == 0, add.output
        live = fresh(client_id)
        spec = client_service.parse_spec(name="steady", provider="echo", model="echo-2")
        client_service.update_client(live, spec)
        loop.wait_for_samples(host, time.time())
        served = loop.assert_served(host, started)
        assert served > 20

        # 5. Undeploy: refused from the moment it is requested, before the destroy.
        undeploy = infra.request_undeploy(fresh(client_id), auto_approve=True)
        asked = time.time()
        loop.assert_served(host, started, asked - 0.5)
        assert wait_until(undeploy.id, {RunStatus.DESTROYED, RunStatus.ERRORED}).status == (
            RunStatus.DESTROYED
        )
        loop.wait_for_samples(host, asked)
        loop.assert_refused(host, asked)
        assert a_records(route53, zone_id, host) == []
    finally:
        loop.stop()
        db.session.remove()
