"""An account's routing workspace follows its clients: asked for with the account's first
deploy (and again when what it should hold changed), destroyed once the destroy of its
last client is done, not before; ``flask infra objects`` prints what serves a client.

The routing workspace only holds Kubernetes objects, which cannot be planned here (no
cluster, no Kubernetes provider: see test_client_objects): these tests check the runs the
requests and the jobs' after-destroy step make, in the database and in Redis, and run the
routing job where it needs no terraform (a configuration already applied).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from rq.job import Job

from app.extensions import db
from app.models import Account, CustomDomain, DomainStatus, InfraRun, LlmClient, RunKind, RunStatus
from app.models.common import utcnow
from app.queue import JOBS, redis_connection
from app.services import infra, runs
from app.services.infra import release_routing as after_client_destroyed
from tests.conftest import CUSTOMER_DOMAIN
from tests.infra.conftest import run_burst_worker
from tests.k8s_schemas import validate_any


@pytest.fixture
def k8s_app(app, make_app, redis_url, tmp_path):
    """The test app with Kubernetes on (gateway routing), Redis, and its own workspaces."""
    application = make_app(
        KUBERNETES_ENABLED=True,
        REDIS_URL=redis_url,
        WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    with application.app_context():
        redis_connection().flushdb()
        yield application
        db.session.remove()


def routing_runs(account_number: str) -> list[InfraRun]:
    db.session.expire_all()
    return list(
        db.session.execute(
            db.select(InfraRun)
            .where(InfraRun.workspace_key == f"routing/{account_number}")
            .order_by(InfraRun.id)
        ).scalars()
    )


def routing_row(number: str, kind: RunKind, status: RunStatus, **fields: object) -> InfraRun:
    """A routing run of the account, committed (as an earlier request left it)."""
    account_id = db.session.execute(
        db.select(Account.id).where(Account.account_number == number)
    ).scalar_one()
    run = InfraRun(
        workspace_key=runs.routing_workspace_key(number),
        kind=kind,
        status=status,
        account_id=account_id,
        account_number=number,
        target_name=number,
        **fields,
    )
    db.session.add(run)
    db.session.commit()
    return run


def enqueued(run: InfraRun) -> bool:
    job = Job.fetch(run.rq_job_id, connection=redis_connection())
    return job.func_name == JOBS["routing"] and job.args == (run.id,)


def verified_domain(account, name: str = "shop.example") -> CustomDomain:
    domain = CustomDomain(
        account=account,
        domain=name,
        status=DomainStatus.VERIFIED,
        zone_id="ZSHOP",
        verified_at=utcnow() - timedelta(hours=1),
    )
    db.session.add(domain)
    db.session.commit()
    return domain


def test_the_first_deploy_asks_for_the_accounts_routing_and_a_change_again(
    k8s_app, account, make_client
) -> None:
    number = account.account_number
    make_client(account, "one", deployed=False)
    make_client(account, "two", deployed=False)
    cli = k8s_app.test_cli_runner()

    result = cli.invoke(args=["clients", "deploy", "one", "--account", number])
    assert result.exit_code == 0, result.output
    (shared,) = routing_runs(number)
    assert (shared.kind, shared.status, shared.job_name) == (
        RunKind.APPLY,
        RunStatus.QUEUED,
        "routing",
    )
    assert shared.client_id is None and shared.target_name == number
    assert enqueued(shared)
    # A second deploy while it is queued: that run renders the state when it starts.
    assert cli.invoke(args=["clients", "deploy", "two", "--account", number]).exit_code == 0
    assert len(routing_runs(number)) == 1

    # Applied as the account is now: a new deploy needs no routing run ...
    shared.status = RunStatus.APPLIED
    shared.config_hash = runs.render_routing_hash(number)
    db.session.commit()
    assert cli.invoke(args=["clients", "deploy", "one", "--account", number]).exit_code == 0
    assert len(routing_runs(number)) == 1
    # ... until a custom domain is verified: its listener and certificate are to come.
    verified_domain(account)
    assert cli.invoke(args=["clients", "deploy", "one", "--account", number]).exit_code == 0
    _, again = routing_runs(number)
    assert again.kind == RunKind.APPLY and enqueued(again)
    files = runs.routing_spec(number).kubernetes_objects()
    assert "*.shop.example" in [
        o["spec"]["dnsNames"][0] for o in files.values() if "dnsNames" in o["spec"]
    ]


def test_an_unchanged_routing_is_applied_without_terraform(k8s_app, account, tmp_path) -> None:
    """The routing job renders the workspace and, when its configuration is the one last
    applied, marks the run applied with no terraform (there is no provider here)."""
    number = account.account_number
    done_id = routing_row(
        number, RunKind.APPLY, RunStatus.APPLIED, config_hash=runs.render_routing_hash(number)
    ).id
    run = routing_row(number, RunKind.APPLY, RunStatus.QUEUED, job_name="routing")
    run.job_args = [run.id]
    db.session.commit()
    infra.enqueue_run(infra.job_queue(), run)
    run_burst_worker(k8s_app)
    (_, latest) = routing_runs(number)
    assert latest.status == RunStatus.APPLIED, latest.log
    assert latest.note == f"unchanged since run {done_id}"
    workspace = tmp_path / "workspaces" / number / "_routing"
    assert sorted(p.name for p in workspace.glob("*.k8s.json")) == [
        "certificate-account.k8s.json",
        "listenerset.k8s.json",
    ]


def destroyed(client: LlmClient) -> InfraRun:
    """The client's undeploy, done (what the undeploy job leaves before its last step)."""
    run = infra.request_undeploy(client, auto_approve=True)
    runs.set_status(run, RunStatus.DESTROYED)
    return run


def test_the_routing_goes_with_the_last_client_not_before(k8s_app, account, make_client) -> None:
    number = account.account_number
    one, two = make_client(account, "one"), make_client(account, "two")
    live = routing_row(number, RunKind.APPLY, RunStatus.APPLIED)

    after_client_destroyed(destroyed(one))
    assert routing_runs(number) == [live]  # client two still served
    # The last one goes by delete (its row first, its destroy after).
    run = infra.request_delete(two)
    runs.set_status(run, RunStatus.DESTROYED)
    after_client_destroyed(run)
    _, release = routing_runs(number)
    assert (release.kind, release.status, release.auto_approve) == (
        RunKind.DESTROY,
        RunStatus.QUEUED,
        True,
    )
    assert "its last client is gone" in release.note and enqueued(release)
    # Asked again (a retried job): nothing more, the routing is already on its way out.
    after_client_destroyed(run)
    assert len(routing_runs(number)) == 2


def test_a_deploy_brings_back_a_routing_being_destroyed(k8s_app, account, make_client) -> None:
    number = account.account_number
    routing_row(number, RunKind.DESTROY, RunStatus.QUEUED)
    infra.request_deploy(make_client(account, "new", deployed=False))
    _, back = routing_runs(number)
    assert back.kind == RunKind.APPLY  # the later run supersedes the destroy


@pytest.fixture
def plain_app(app, make_app, redis_url):
    application = make_app(REDIS_URL=redis_url)
    with application.app_context():
        yield application
        db.session.remove()


def test_without_kubernetes_there_is_no_routing(plain_app, account, make_client) -> None:
    client = make_client(account, "plain", deployed=False)
    infra.request_deploy(client)
    after_client_destroyed(destroyed(db.session.get(LlmClient, client.id)))
    assert routing_runs(account.account_number) == []
    result = plain_app.test_cli_runner().invoke(
        args=["infra", "objects", "plain", "--account", account.account_number]
    )
    assert result.exit_code != 0
    assert "KUBERNETES_ENABLED is off" in result.output


def test_infra_objects_prints_what_serves_a_client(k8s_app, account, make_client) -> None:
    number = account.account_number
    client = make_client(account, "demo")
    domain = CustomDomain(
        account=account, domain="shop.example", status=DomainStatus.VERIFYING, zone_id="ZSHOP"
    )
    db.session.add(domain)
    client.custom_domain = domain
    db.session.commit()
    cli = k8s_app.test_cli_runner()

    def objects() -> list[dict]:
        result = cli.invoke(args=["infra", "objects", "demo", "--account", number])
        assert result.exit_code == 0, result.output
        return list(yaml.safe_load_all(result.output))

    default_host = f"demo.{number}.{CUSTOMER_DOMAIN}"
    route, certificate, listeners = objects()
    for obj in (route, certificate, listeners):
        validate_any(obj)
    assert route["kind"] == "HTTPRoute"
    assert route["spec"]["hostnames"] == [default_host]  # the domain is not verified yet
    assert certificate["spec"]["dnsNames"] == [f"*.{number}.{CUSTOMER_DOMAIN}"]
    assert [item["hostname"] for item in listeners["spec"]["listeners"]] == [
        f"*.{number}.{CUSTOMER_DOMAIN}"
    ]

    domain.status, domain.verified_at = DomainStatus.VERIFIED, utcnow()
    db.session.commit()
    route, *certificates, listeners = objects()
    assert route["spec"]["hostnames"] == [default_host, "demo.shop.example"]
    assert sorted(c["spec"]["dnsNames"][0] for c in certificates) == sorted(
        [f"*.{number}.{CUSTOMER_DOMAIN}", "*.shop.example"]
    )
    sections = {p["sectionName"] for p in route["spec"]["parentRefs"]}
    assert sections == {item["name"] for item in listeners["spec"]["listeners"]}
    # What a deploy would apply now: its route names exactly the hosts the run serves.
    run = infra.request_deploy(client)
    workspace = runs.render_for_run(run)
    applied = json.loads((workspace.path / "route.k8s.json").read_text())
    assert applied == route and applied["spec"]["hostnames"] == run.hosts

    # An unknown client, or one of another account: the same refusal, nothing printed.
    for args in (["nobody", "--account", number], ["demo", "--account", "0000-0000-0001"]):
        result = cli.invoke(args=["infra", "objects", *args])
        assert result.exit_code != 0 and "apiVersion" not in result.output


@pytest.mark.parametrize(
    ("kind", "status", "destroyed_again"),
    [
        (RunKind.APPLY, RunStatus.ERRORED, True),  # may have applied part of it
        (RunKind.APPLY, RunStatus.AWAITING_APPROVAL, True),  # an earlier apply may be there
        (RunKind.DESTROY, RunStatus.ERRORED, True),  # a failed destroy leaves objects
        (RunKind.DESTROY, RunStatus.QUEUED, False),  # already on its way out
        (RunKind.DESTROY, RunStatus.DESTROYED, False),  # gone
    ],
)
def test_the_last_clients_destroy_finishes_what_is_left(
    k8s_app, account, make_client, kind, status, destroyed_again
) -> None:
    number = account.account_number
    routing_row(number, kind, status)
    after_client_destroyed(destroyed(make_client(account, "last")))
    later = routing_runs(number)[1:]
    assert [(r.kind, r.status) for r in later] == (
        [(RunKind.DESTROY, RunStatus.QUEUED)] if destroyed_again else []
    )
