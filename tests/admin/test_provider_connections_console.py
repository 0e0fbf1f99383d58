"""The account page lists its provider connections with the key as set/unset only."""

from __future__ import annotations

from app.services import accounts
from app.services.provider_connections import ConnectionSpec, save_connection


def test_the_account_page_shows_connections_but_never_a_key(console):
    account = accounts.create_account("Shop")
    spec = ConnectionSpec(type="anthropic", api_key="sk-ant-never-shown")
    save_connection(account, "claude", spec)
    page = console.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    section = page.split('id="provider-connections"', 1)[1].split("</section>", 1)[0]
    assert "<code>claude</code>" in section and "anthropic" in section
    assert ">set<" in section
    assert "sk-ant-never-shown" not in page


def _section(console, account) -> str:
    page = console.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    return page.split('id="provider-connections"', 1)[1].split("</section>", 1)[0]


def test_a_member_adds_changes_and_deletes_a_connection_in_the_console(app, console):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import AuditEvent, ProviderConnection
    from app.secret_box import unseal
    from tests.admin.conftest import post_form

    account = accounts.create_account("Shop")
    page, save = (
        f"/admin/accounts/{account.id}",
        f"/admin/accounts/{account.id}/provider-connections",
    )
    fields = {"name": "claude", "type": "anthropic", "api_key": "sk-ant-typed-once"}
    assert post_form(console, page, save, fields).status_code == 302
    connection = db.session.execute(select(ProviderConnection)).scalar_one()
    assert unseal(connection.api_key_sealed) == "sk-ant-typed-once"
    section = _section(console, account)
    assert "<code>claude</code>" in section and ">set<" in section
    assert "sk-ant-typed-once" not in console.get(page).get_data(as_text=True)

    # An empty key field keeps the key; the own models change.
    changed = {"name": "claude", "type": "anthropic", "models": "claude-custom-1"}
    assert post_form(console, page, save, changed).status_code == 302
    db.session.expire_all()
    connection = db.session.execute(select(ProviderConnection)).scalar_one()
    assert unseal(connection.api_key_sealed) == "sk-ant-typed-once"
    assert "claude-custom-1" in _section(console, account)

    # Refused: a base URL inside the platform's network, a name that is not a label.
    for bad, why in (
        ({"name": "inside", "type": "openai", "base_url": "http://127.0.0.1:9/v1"}, "loopback"),
        ({"name": "Not A Name", "type": "openai"}, "not a name"),
    ):
        answer = post_form(console, page, save, bad)
        assert why in console.get(answer.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.execute(select(ProviderConnection.name)).scalars().all() == ["claude"]

    delete = f"/admin/accounts/{account.id}/provider-connections/claude/delete"
    assert post_form(console, page, delete).status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(ProviderConnection)).first() is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "provider_connection")
    ).all()
    assert actions == ["create", "update", "delete"]
    changes = " ".join(str(e.changes) for e in db.session.scalars(select(AuditEvent)))
    assert "sk-ant-typed-once" not in changes


def test_another_accounts_member_cannot_reach_its_connections(app, console):
    from app.models import MemberRole
    from app.services.members import add_member
    from app.services.users import set_user
    from tests.admin.conftest import new_browser, post_form, sign_in

    account = accounts.create_account("Shop")
    save_connection(account, "claude", ConnectionSpec(type="anthropic", api_key="sk-x"))
    other = accounts.create_account("Other")
    user, _ = set_user("member@other.test", "correct horse battery staple", platform_admin=False)
    add_member(other, user, MemberRole.OWNER)
    stranger = new_browser(app)
    sign_in(stranger, "member@other.test", "correct horse battery staple")
    delete = f"/admin/accounts/{account.id}/provider-connections/claude/delete"
    assert post_form(stranger, f"/admin/accounts/{other.id}", delete).status_code == 404
    assert "claude" in _section(console, account)  # still there
