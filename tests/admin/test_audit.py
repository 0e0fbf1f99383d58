"""The audit trail: every audited action appears once, with the right actor, from the
CLI and from the console; never a secret; append-only."""

from __future__ import annotations

import getpass
import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, AuditEvent
from app.models.audit import AuditIsAppendOnly
from app.services import accounts as account_service
from tests.admin.conftest import ADMIN_EMAIL, post_form


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
    assert plaintext.split("_")[-1] not in everything
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
        ("admin", ADMIN_EMAIL, "create", "account"),
        ("admin", ADMIN_EMAIL, "create", "client"),
        ("admin", ADMIN_EMAIL, "update", "client"),
        ("admin", ADMIN_EMAIL, "create", "api_key"),
        ("admin", ADMIN_EMAIL, "revoke", "api_key"),
    ]
    update = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "update")
    ).scalar_one()
    assert update.changes == {"max_tokens": [100, 64]}
    assert update.source == "console" and update.address == "127.0.0.1"
    page = console.get(f"/admin/audit?account={account.id}").get_data(as_text=True)
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
    assert "of a <strong>5000</strong> token budget" in console.get(url).get_data(as_text=True)
    assert _events()[-2:] == [
        ("admin", ADMIN_EMAIL, "set_limits", "account"),
        ("admin", ADMIN_EMAIL, "set_limits", "client"),
    ]
    assert console.get("/admin/static/vendor/chartjs/chart.umd.js").status_code == 200
