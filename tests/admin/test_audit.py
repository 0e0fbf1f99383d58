"""The audit trail: every audited action appears once, with the right actor kind
(platform admin, member, token, CLI user, job), from the CLI, the console and the API;
never a secret; append-only; members see their own accounts' trail only."""

from __future__ import annotations

import getpass
import json
import re

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select

from app.extensions import db
from app.models import AccountInvitation, ApiKey, AuditEvent
from app.models.audit import AuditIsAppendOnly
from app.services import accounts as account_service
from app.services import members
from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, new_browser, post_form, sign_in


def _events() -> list[tuple[str, str, str, str]]:
    db.session.expire_all()
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    return [(e.actor_type, e.actor, e.action, e.object_type) for e in rows]


def _cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_changes_are_recorded_once_with_the_os_user(app):
    user = getpass.getuser()
    number = _cli(app, "accounts", "create", "--name", "Acme").split()[-1]
    _cli(app, "clients", "create", "bot", "--account", number)
    plaintext = _cli(app, "apikeys", "create", "--account", number, "--label", "ci").split()[0]
    key_id = db.session.execute(select(ApiKey.key_id)).scalar_one()
    _cli(app, "apikeys", "revoke", key_id)
    _cli(app, "limits", "set", "--account", number, "--monthly-tokens", "5000")
    _cli(app, "limits", "set", "--account", number, "--client", "bot", "--rpm", "60")
    _cli(app, "limits", "set", "--account", number, "--key", key_id, "--tpm", "900")
    _cli(app, "limits", "set", "--account", number, "--monthly-tokens", "5000")  # unchanged
    assert _events() == [
        ("cli", user, "create", "account"),
        ("cli", user, "create", "client"),
        ("cli", user, "create", "api_key"),
        ("cli", user, "revoke", "api_key"),
        ("cli", user, "set_limits", "account"),
        ("cli", user, "set_limits", "client"),
        ("cli", user, "set_limits", "api_key"),
    ]
    everything = json.dumps([e.changes for e in db.session.execute(select(AuditEvent)).scalars()])
    assert plaintext.split("_", 2)[2] not in everything
    secret_hash = db.session.execute(select(ApiKey.secret_hash)).scalar_one()
    assert secret_hash not in everything
    budget = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.object_type == "account", AuditEvent.action == "set_limits"
        )
    ).scalar_one()
    assert budget.changes == {"monthly_token_budget": [None, 5000]} and budget.source == "cli"
    listed = _cli(app, "audit", "--account", number, "--object", f"api_key:{key_id}")
    assert listed.count(f"api_key:{key_id}") == 3 and "revoke" in listed
    _cli(
        app, "users", "create-member", "dev@acme.test", "--account", number, "--password", "x" * 12
    )
    _cli(app, "users", "create-admin", "dev@acme.test", "--password", "y" * 12)
    users = db.session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "user").order_by(AuditEvent.id)
    ).scalars()
    assert [(e.action, e.changes) for e in users] == [
        ("create", {"platform_admin": [None, False]}),
        ("set_password", {"platform_admin": [False, True]}),
    ]


def test_console_changes_are_recorded_once_with_the_admin(console, app):
    post_form(console, "/admin/accounts/new", "/admin/accounts/new", {"name": "Acme"})
    account = account_service.list_accounts()[0]
    form_url = f"/admin/accounts/{account.id}/clients/new"
    fields = {"name": "bot", "provider": "echo", "temperature": "0.5", "max_tokens": "100"}
    assert post_form(console, form_url, form_url, fields).status_code == 302
    client_id = account.clients[0].id
    edit_url = f"/admin/clients/{client_id}/edit"
    post_form(console, edit_url, edit_url, fields | {"max_tokens": "64"})
    url = f"/admin/accounts/{account.id}"
    assert post_form(console, url, f"{url}/keys", {"label": "ci"}).status_code == 303  # PRG
    key_id = db.session.execute(select(ApiKey.key_id)).scalar_one()
    post_form(console, url, f"/admin/keys/{key_id}/revoke")
    assert _events() == [
        ("cli", getpass.getuser(), "create", "user"),  # the console fixture's admin
        ("platform_admin", ADMIN_EMAIL, "create", "account"),
        ("platform_admin", ADMIN_EMAIL, "create", "client"),
        ("platform_admin", ADMIN_EMAIL, "update", "client"),
        ("platform_admin", ADMIN_EMAIL, "create", "api_key"),
        ("platform_admin", ADMIN_EMAIL, "revoke", "api_key"),
    ]
    update = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "update")
    ).scalar_one()
    assert update.changes == {"max_tokens": [100, 64]}
    assert update.source == "console" and update.address == "127.0.0.1"
    page = console.get(f"/admin/audit?account={account.account_number}").get_data(as_text=True)
    assert page.count(ADMIN_EMAIL) >= 5 and "revoke" in page


def test_the_trail_cannot_be_changed_through_the_application(app, account):
    event = db.session.execute(select(AuditEvent)).scalars().first()
    event.action = "forged"
    with pytest.raises(AuditIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(AuditIsAppendOnly):
        db.session.delete(db.session.execute(select(AuditEvent)).scalars().first())
        db.session.commit()
    db.session.rollback()


def test_retiring_a_model_is_recorded_once_per_model(app, account, make_client):
    from tests.catalog_support import old_row, put_on

    turbo = old_row("openai", "gpt-4-turbo")
    put_on(make_client(account, "a"), turbo)
    put_on(make_client(account, "b"), turbo)
    before = len(_events())
    _cli(app, "models", "remove-deprecated")
    retired = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "retire")).scalars().all()
    )
    assert [(e.object_id, e.actor_type, e.changes) for e in retired] == [
        (
            "openai/gpt-4-turbo",
            "cli",
            {"replaced_by": [None, "openai/gpt-4.1"], "clients_moved": [None, 2]},
        )
    ]
    assert len(_events()) == before + 1


def test_console_shows_usage_and_sets_limits(console, app, account, make_client):
    client = make_client(account, "bot")
    path = f"/api/v0/llm-clients/{client.id}/bot/"
    reply = app.test_client().post(path, json={"messages": [{"role": "user", "content": "hi"}]})
    tokens = reply.get_json()["usage"]["total_tokens"]
    url = f"/admin/accounts/{account.id}"
    page = console.get(url).get_data(as_text=True)
    assert f'data-testid="tokens-this-month">{tokens}<' in page
    assert 'id="usage-table"' in page and "vendor/chartjs/chart.umd.js" in page
    assert post_form(console, url, f"{url}/limits", {"monthly_tokens": "5000"}).status_code == 302
    client_url = f"/admin/clients/{client.id}"
    post_form(console, client_url, f"{client_url}/limits", {"requests_per_minute": "30"})
    db.session.expire_all()
    assert account.monthly_token_budget == 5000 and client.requests_per_minute == 30
    assert "of <strong>5000</strong> tokens this month" in console.get(url).get_data(as_text=True)
    assert _events()[-2:] == [
        ("platform_admin", ADMIN_EMAIL, "set_limits", "account"),
        ("platform_admin", ADMIN_EMAIL, "set_limits", "client"),
    ]
    assert console.get("/admin/static/vendor/chartjs/chart.umd.js").status_code == 200


OWNER, NEWCOMER = "owner@acme.test", "new@acme.test"


def _revoke_in_a_job(account_number: str, invitation_id: int) -> None:
    """An RQ job's function: what a job does is recorded as the job."""
    account = account_service.get_account(account_number)
    members.revoke_invitation(None, members.get_invitation(account, invitation_id))


def _invitation_id(email: str) -> int:
    db.session.expire_all()
    return (
        db.session.execute(
            select(AccountInvitation.id)
            .where(AccountInvitation.email == email)
            .order_by(AccountInvitation.id.desc())
        )
        .scalars()
        .first()
    )


def _link(http, location: str) -> str:
    page = http.get(location).get_data(as_text=True)
    return re.search(r'id="invitation-link"[^>]*value="([^"]+)"', page).group(1)


def test_member_events_are_recorded_once_with_the_actor_kind(console, app, redis_url):
    """Invitations sent, resent, accepted and revoked, role changes, removals, tokens
    created and revoked: each once, by a platform admin, a member, a token, the CLI or a
    job."""
    user = getpass.getuser()
    number = _cli(app, "accounts", "create", "--name", "Acme").split()[-1]
    account = account_service.get_account(number)
    _cli(
        app,
        "users",
        "create-member",
        OWNER,
        "--account",
        number,
        "--role",
        "owner",
        "--password",
        ADMIN_PASSWORD,
    )
    owner = new_browser(app)
    assert sign_in(owner, OWNER).status_code == 302
    page = f"/admin/accounts/{account.id}"
    invite = f"{page}/invitations"
    sent = post_form(owner, page, invite, {"email": NEWCOMER, "role": "member"})
    assert sent.status_code == 303
    link = _link(owner, sent.headers["Location"])
    post_form(owner, page, invite, {"email": "wrong@acme.test", "role": "owner"})
    wrong = _invitation_id("wrong@acme.test")
    assert post_form(owner, page, f"{invite}/{wrong}/resend").status_code == 303
    post_form(owner, page, f"{invite}/{wrong}/revoke")
    newcomer = new_browser(app)
    path = link.split("localhost", 1)[-1]
    joined = post_form(
        newcomer,
        path,
        path,
        {"password": "a new long passphrase", "confirm": "a new long passphrase"},
    )
    assert joined.status_code == 302, joined.get_data(as_text=True)
    member_id = members.member_by_email(account, NEWCOMER).id
    post_form(owner, page, f"{page}/members/{member_id}/role", {"role": "owner"})
    made = post_form(
        owner, "/admin/tokens", "/admin/tokens", {"label": "ci", "expires_in_days": "7"}
    )
    secret = re.search(
        r'id="new-token"[^>]*value="([^"]+)"',
        owner.get(made.headers["Location"]).get_data(as_text=True),
    ).group(1)
    token_id = secret.split("_")[1]
    api = new_browser(app)
    bearer = {"Authorization": f"Bearer {secret}"}
    base = f"/api/v1/accounts/{account.id}"
    assert (
        api.post(f"{base}/members", json={"email": "third@acme.test"}, headers=bearer).status_code
        == 201
    )
    assert (
        api.patch(
            f"{base}/members/{member_id}", json={"role": "member"}, headers=bearer
        ).status_code
        == 200
    )
    assert api.delete(f"{base}/members/{member_id}", headers=bearer).status_code == 204
    post_form(owner, "/admin/tokens", f"/admin/tokens/{token_id}/revoke")
    third = _invitation_id("third@acme.test")
    post_form(console, page, f"{invite}/{third}/resend")
    _cli(app, "invitations", "create", "cli@acme.test", "--account", number)
    job = Job.create(
        _revoke_in_a_job,
        args=(number, _invitation_id("cli@acme.test")),
        connection=Redis.from_url(redis_url),
    )
    job.perform()
    by_token = f"{OWNER} (token {token_id})"
    assert _events() == [
        ("cli", user, "create", "user"),  # the console fixture's admin
        ("cli", user, "create", "account"),
        ("cli", user, "create", "user"),
        ("cli", user, "add", "member"),
        ("member", OWNER, "invite", "invitation"),
        ("member", OWNER, "invite", "invitation"),
        ("member", OWNER, "resend", "invitation"),
        ("member", OWNER, "revoke", "invitation"),
        ("member", NEWCOMER, "accept", "invitation"),
        ("member", OWNER, "change_role", "member"),
        ("member", OWNER, "create", "token"),
        ("token", by_token, "invite", "invitation"),
        ("token", by_token, "change_role", "member"),
        ("token", by_token, "remove", "member"),
        ("member", OWNER, "revoke", "token"),
        ("platform_admin", ADMIN_EMAIL, "resend", "invitation"),
        ("cli", user, "invite", "invitation"),
        ("job", f"{__name__}._revoke_in_a_job ({job.id})", "revoke", "invitation"),
    ]
    events = db.session.execute(select(AuditEvent)).scalars().all()
    assert {e.source for e in events} == {"cli", "console", "api", "job"}
    assert all(e.account_id == account.id for e in events if e.object_type not in ("token", "user"))
    everything = json.dumps([e.changes for e in events])
    assert secret.split("_", 2)[2] not in everything and link.rsplit("/", 1)[-1] not in everything


def test_members_see_their_accounts_trail_and_the_filter_takes_a_number(console, app):
    acme = account_service.create_account("Acme")
    other = account_service.create_account("Other")
    _cli(
        app,
        "users",
        "create-member",
        OWNER,
        "--account",
        acme.account_number,
        "--password",
        ADMIN_PASSWORD,
    )
    owner = new_browser(app)
    sign_in(owner, OWNER)
    page = owner.get("/admin/audit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and ">Audit</a>" in text
    assert acme.account_number in text and other.account_number not in text
    refused = owner.get(f"/admin/audit?account={other.account_number}")
    assert refused.status_code == 400
    assert f"no account {other.account_number}" in refused.get_data(as_text=True)
    assert 'id="audit-table"' not in refused.get_data(as_text=True)
    by_id = console.get(f"/admin/audit?account={other.id}")
    assert by_id.status_code == 400 and "expected ####-####-####" in by_id.get_data(as_text=True)
    assert 'id="audit-table"' not in by_id.get_data(as_text=True)
    mine = console.get(f"/admin/audit?account={other.account_number}").get_data(as_text=True)
    assert other.account_number in mine and acme.account_number not in mine


def test_a_requests_actor_ends_with_it(app, admin):
    """The actor is per request: after a console request in this thread, a change made
    outside any request is the CLI's again, not the last signed-in user's."""
    browser = new_browser(app)
    sign_in(browser)
    assert browser.get("/admin/").status_code == 200
    account_service.create_account("After The Request")
    assert _events()[-1] == ("cli", getpass.getuser(), "create", "account")
