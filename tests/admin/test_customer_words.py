"""Words for customers: run logs without server paths or terraform's lock-file notes, a
skipped redeploy said as such, a first deploy's message, a domain's status said the same
by `domains attach` and `domains show`; and `flask clients update`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import CustomDomain, DomainStatus, InfraRun, MemberRole, RunKind, RunStatus
from app.models.common import utcnow
from app.services import tokens
from app.services.members import add_member
from app.services.runs.workspace import workspaces_dir
from app.services.users import set_user
from tests.admin.conftest import ADMIN_PASSWORD, new_browser, post_form, sign_in

MEMBER = "dev@acme.test"
LOG = """rendered {workspaces}/{number}/bot (config 0123456789ab)
$ terraform init -input=false
Initializing provider plugins...
- Installed hashicorp/aws v5.80.0 (unauthenticated)

Terraform has created a lock file .terraform.lock.hcl to record the provider
selections it made above. Include this file in your version control repository
so that Terraform can guarantee to make the same selections by default when
you run "terraform init" in the future.

╷
│ Warning: Incomplete lock file information for providers
│
│ Due to your customized provider installation methods, Terraform was forced
│ to calculate lock file checksums locally for the following providers:
│   - hashicorp/aws
╵
Terraform has been successfully initialized!
Error: writing /srv/chatdock/instance/plans/run-7.tfplan: see https://docs.example/a/b
"""


@pytest.fixture
def app(redis_app):
    return redis_app


def _run(account, client, **fields) -> InfraRun:
    run = InfraRun(
        workspace_key=f"clients/{account.account_number}/{client.name}",
        kind=RunKind.APPLY,
        client_id=client.id,
        account_id=account.id,
        account_number=account.account_number,
        target_name=client.name,
        **fields,
    )
    db.session.add(run)
    db.session.commit()
    return run


def _member(app, account):
    user, _ = set_user(MEMBER, ADMIN_PASSWORD, platform_admin=False)
    add_member(account, user, MemberRole.MEMBER)
    http = new_browser(app)
    assert sign_in(http, MEMBER).status_code == 302
    return http, user


def test_members_read_run_logs_without_server_paths_or_lock_file_notes(
    app, admin, account, make_client
):
    client = make_client(account, "bot")
    workspaces = str(workspaces_dir())
    log = LOG.format(workspaces=workspaces, number=account.account_number)
    run = _run(account, client, status=RunStatus.ERRORED, log=log)
    http, user = _member(app, account)
    for shown in (
        http.get(f"/admin/runs/{run.id}").text,
        http.get(f"/admin/runs/{run.id}/state.json").get_json()["log"],
        new_browser(app)
        .get(
            f"/api/v1/runs/{run.id}/logs",
            headers={"Authorization": f"Bearer {tokens.create_token(user).plaintext}"},
        )
        .get_json()["log"],
    ):
        assert workspaces not in shown and "/srv/chatdock" not in shown
        assert "lock file" not in shown and "version control" not in shown
        assert f"rendered {account.account_number}/bot (config" in shown
        assert "Error: writing [server path]: see https://docs.example/a/b" in shown
        assert "successfully initialized" in shown
    operator = new_browser(app)
    sign_in(operator)
    raw = operator.get(f"/admin/runs/{run.id}/state.json").get_json()["log"]
    assert raw == log


def test_a_skipped_redeploy_says_nothing_changed(app, admin, account, make_client):
    client = make_client(account, "bot")
    run = _run(
        account,
        client,
        status=RunStatus.APPLIED,
        note="unchanged since run 3; use --drift-check to compare with the real infrastructure",
    )
    http, _ = _member(app, account)
    page = http.get(f"/admin/runs/{run.id}").text
    assert 'data-status="unchanged"' in page and 'data-status="applied"' not in page
    assert "Skipped: the configuration is the same as at the last apply" in page
    assert "No plan yet" not in page


def test_a_first_deploy_does_not_speak_of_a_live_client(app, admin, account, make_client):
    client = make_client(account, "bot", deployed=False)
    http, _ = _member(app, account)
    page = f"/admin/clients/{client.id}"
    post_form(http, page, f"{page}/deploy")
    said = http.get(page).text
    assert "bot is served once its plan is applied" in said
    assert "keeps being served" not in said


def test_domains_attach_says_the_status_domains_show_says(app, account, make_client):
    make_client(account, "bot", deployed=False)
    domain = CustomDomain(
        account=account,
        domain="example.test",
        status=DomainStatus.FAILED,
        zone_id="Z1",
        name_servers=["ns-1.example."],
        next_check_at=utcnow() + timedelta(minutes=5),
    )
    db.session.add(domain)
    db.session.commit()
    number = account.account_number
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["domains", "show", "example.test"]).output
    attached = runner.invoke(
        args=["domains", "attach", "example.test", "--client", "bot", "--account", number]
    )
    assert attached.exit_code == 0, attached.output
    assert "waiting for delegation" in shown
    assert "served there once example.test is verified (waiting for delegation)" in attached.output
    assert "failed" not in attached.output


def test_flask_clients_update_changes_only_what_is_given(app, account, make_client):
    client = make_client(account, "bot", system_prompt="Be brief.", max_tokens=100)
    number = account.account_number
    runner = app.test_cli_runner()

    def update(*args: str):
        return runner.invoke(args=["clients", "update", "bot", "--account", number, *args])

    changed = update(
        "--temperature", "0.2", "--require-api-key", "--allowed-origin", "https://a.example"
    )
    assert changed.exit_code == 0, changed.output
    assert "temperature: 0.7 -> 0.2" in changed.output
    db.session.expire_all()
    assert (client.temperature, client.require_api_key, client.allowed_origins) == (
        0.2,
        True,
        ["https://a.example"],
    )
    assert (client.system_prompt, client.max_tokens) == ("Be brief.", 100)
    assert update("--no-allowed-origins", "--no-require-api-key").exit_code == 0
    db.session.expire_all()
    assert (client.allowed_origins, client.require_api_key) == ([], False)
    bad = update("--max-tokens", "0")
    assert bad.exit_code == 2 and "max_tokens" in bad.output
    assert update().exit_code == 2 and "nothing to change" in update().output
    unknown = update("--model", "no-such-model")
    assert unknown.exit_code == 2 and "no-such-model" in unknown.output
    db.session.expire_all()
    assert client.max_tokens == 100 and client.model != "no-such-model"
