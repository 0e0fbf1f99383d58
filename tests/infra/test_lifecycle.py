"""Deploy, review, undeploy and delete end to end: real terraform against moto's server,
a real Redis server, and real workers (a worker process, or an in-process burst worker
where the test must observe signals)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app import signals
from app.extensions import db
from app.models import DeploymentStatus, InfraRun, RunStatus
from app.services import infra
from app.services.client_state import client_state
from tests.conftest import host_of
from tests.infra.conftest import a_records, fresh, run_burst_worker, wait_until

pytestmark = pytest.mark.one_machine  # SQLite pass only (tests/conftest.py)

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def test_deploy_auto_approve_then_undeploy(
    infra_app, worker_process, account, make_client, route53, zone_id
):
    client = make_client(account, "demo", deployed=False)
    http = infra_app.test_client()
    worker_process()
    cli = infra_app.test_cli_runner()
    result = cli.invoke(
        args=[
            "clients",
            "deploy",
            "demo",
            "--account",
            account.account_number,
            "--auto-approve",
            "--wait",
        ]
    )
    assert result.exit_code == 0, result.output
    run = db.session.execute(select(InfraRun)).scalar_one()
    assert run.status == RunStatus.APPLIED
    # --wait streams the run: terraform's lines as they come, the plan, then the result.
    streamed = [line for line in result.stderr.splitlines() if line.startswith("  | ")]
    assert len(streamed) >= 3 and streamed[0][4:] in run.log
    assert "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete." in result.stdout
    assert "result: 1 created, 0 changed, 0 destroyed" in result.stdout
    assert f"demo: live on {host_of(client)}" in result.stdout
    assert run.plan_summary["counts"]["create"] >= 1
    assert "terraform" in run.log.lower() or "apply" in run.log.lower()
    records = a_records(route53, zone_id, host_of(client))
    assert len(records) == 1
    assert records[0]["ResourceRecords"] == [{"Value": "127.0.0.1"}]
    db.session.refresh(client)
    assert client.deployment_status == DeploymentStatus.DEPLOYED
    assert (
        http.post("/llm-client/", json=CHAT, headers={"Host": host_of(client)}).status_code == 200
    )

    result = cli.invoke(
        args=[
            "clients",
            "undeploy",
            "demo",
            "--account",
            account.account_number,
            "--auto-approve",
            "--wait",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "result: 0 created, 0 changed, 1 destroyed" in result.stdout
    assert "demo: not served (draft)" in result.stdout
    assert a_records(route53, zone_id, host_of(client)) == []
    db.session.refresh(client)
    assert client.deployment_status == DeploymentStatus.DRAFT
    assert (
        http.post("/llm-client/", json=CHAT, headers={"Host": host_of(client)}).status_code == 404
    )


def test_review_approve_and_stale_plans(
    infra_app, account, make_client, route53, zone_id, make_app
):
    client = make_client(account, "review-bot", deployed=False)
    client_id, host = client.id, host_of(client)
    run = infra.request_deploy(client)
    run_burst_worker(infra_app)
    run = wait_until(run.id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED})
    assert run.status == RunStatus.AWAITING_APPROVAL, run.log
    changes = run.plan_summary["changes"]
    assert [(c["action"], c["type"]) for c in changes] == [("create", "aws_route53_record")]
    # A first deploy awaiting review: not served yet, its plan is the pending change.
    assert fresh(client_id).deployment_status == DeploymentStatus.DEPLOYING
    assert client_state(fresh(client_id)).headline() == (
        f"deploying, change awaiting review (run {run.id})"
    )
    assert a_records(route53, zone_id, host) == []  # nothing applied yet

    infra.approve_run(run.id, approved_by="ops@example.com")
    run_burst_worker(infra_app)
    run = wait_until(run.id, {RunStatus.APPLIED, RunStatus.ERRORED})
    assert run.status == RunStatus.APPLIED, run.log
    assert run.approved_by == "ops@example.com"
    assert len(a_records(route53, zone_id, host)) == 1

    # A plan made, then the configuration changes: approving it is refused.
    second = make_client(fresh(client_id).account, "stale-bot", deployed=False)
    stale = infra.request_deploy(second)
    run_burst_worker(infra_app)
    stale = wait_until(stale.id, {RunStatus.AWAITING_APPROVAL, RunStatus.ERRORED})
    changed = make_app(**{**_settings_of(infra_app), "DNS_TTL": 60})
    with changed.app_context():
        result = changed.test_cli_runner().invoke(args=["infra", "approve", str(stale.id)])
        assert result.exit_code == 1
        assert "stale" in result.output and "flask clients deploy stale-bot" in result.output
    db.session.expire_all()
    assert db.session.get(InfraRun, stale.id).status == RunStatus.DISCARDED


def _settings_of(app) -> dict[str, object]:
    settings = app.extensions["chatdock.settings"]
    keys = ("REDIS_URL", "AWS_ENDPOINT_URL", "ROUTE53_ZONE_ID", "WORKSPACES_DIR")
    return {k: getattr(settings, k) for k in keys}


def test_delete_destroys_record_and_workspace_with_signals_in_order(
    infra_app, account, make_client, route53, zone_id
):
    client = make_client(account, "doomed", deployed=False)
    host, number, client_id = host_of(client), account.account_number, client.id
    deploy = infra.request_deploy(client, auto_approve=True)
    run_burst_worker(infra_app)
    assert wait_until(deploy.id, {RunStatus.APPLIED, RunStatus.ERRORED}).status == RunStatus.APPLIED
    workspace = Path(_settings_of(infra_app)["WORKSPACES_DIR"]) / number / "doomed"
    assert workspace.exists()
    fired: list[str] = []

    def record(name: str):
        def receiver(sender, **kwargs) -> None:
            fired.append(name)

        return receiver

    receivers = {
        "pre": record("pre_delete_default_api"),
        "post": record("post_delete_default_api"),
    }
    signals.pre_delete_default_api.connect(receivers["pre"])
    signals.post_delete_default_api.connect(receivers["post"])
    try:
        run = infra.request_delete(fresh(client_id))
        run_burst_worker(infra_app)
    finally:
        signals.pre_delete_default_api.disconnect(receivers["pre"])
        signals.post_delete_default_api.disconnect(receivers["post"])
    run = wait_until(run.id, {RunStatus.DESTROYED, RunStatus.ERRORED})
    assert run.status == RunStatus.DESTROYED, run.log
    assert fired == ["pre_delete_default_api", "post_delete_default_api"]
    assert a_records(route53, zone_id, host) == []
    assert not workspace.exists()
