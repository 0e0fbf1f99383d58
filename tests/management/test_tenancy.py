"""No way into another account: every management route and every console route that
takes an object id, generated from the app's route table, answers a member (and an
owner) of account A with 404 or 403 for account B's objects, reading or writing, and
changes nothing. A new route with an argument this map does not know fails here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AccountInvitation, MemberRole
from app.models.common import utcnow
from app.schemas import management as s
from app.schemas import tools as t
from app.schemas.operations import OPERATIONS
from tests.admin.conftest import csrf_token
from tests.management.conftest import PASSWORD, Tenant

# A valid body for each request model: a missing check would act on it.
BODIES: dict[type, dict[str, Any]] = {
    s.AccountIn: {"name": "Intruder"},
    s.InvitationIn: {"email": "intruder@evil.test", "role": "owner"},
    s.RoleIn: {"role": "owner"},
    s.ClientIn: {"name": "intruder"},
    s.ClientPatch: {"system_prompt": "hacked"},
    s.AttachIn: {"domain_id": None},
    s.ApiKeyIn: {"label": "intruder"},
    s.DomainIn: {"domain": "intruder.example"},
    t.ConnectionIn: {
        "name": "intruder",
        "spec": {"type": "api", "api": {"baseUrl": "https://8.8.8.8"}},
    },
    t.ConnectionUpdate: {"spec": {"type": "api", "api": {"baseUrl": "https://8.8.4.4"}}},
    t.PluginIn: {"name": "intruder", "spec": {"type": "static", "static": {"data": 1}}},
    t.PluginUpdate: {"spec": {"type": "static", "static": {"data": "hacked"}}},
    t.ToolTestIn: {"arguments": {}},
    t.ClientToolsIn: {"functions": ["calculator"]},
}
SKIP_METHODS = {"HEAD", "OPTIONS"}
RULE_ARG = r"<(?:[^:>]+:)?([a-z_]+)>"


def _ids(b: Tenant) -> dict[str, Any]:
    """Account B's object for each URL argument."""
    return {
        "account_id": b.account.id,
        "client_id": b.client.id,
        "member_id": b.member_member.id,
        "invitation_id": _invitation(b).id,
        "key_id": b.key.id,
        "domain_id": b.domain.id,
        "run_id": b.run.id,
        "token_id": "000000000000",  # replaced by B's token id below
        "token": "no-such-invitation",
        **_tools(b),
    }


def _tools(b: Tenant) -> dict[str, Any]:
    """Account B's connection, plugin, provider connection (by name, in its account's
    URL) and a conversation of its client."""
    from app.models import ChatSession
    from app.services import provider_connections, tools
    from app.tools.specs import ConnectionSpec, PluginSpec

    provider = provider_connections.ConnectionSpec(type="anthropic", api_key="sk-ant-b")
    provider_connections.save_connection(b.account, "b-provider", provider)

    api = {"type": "api", "api": {"baseUrl": "https://8.8.8.8"}}
    connection, _ = tools.apply_connection(b.account, "b-api", ConnectionSpec.model_validate(api))
    static = PluginSpec.model_validate({"type": "static", "static": {"data": "b"}})
    plugin, _ = tools.apply_plugin(b.account, "b-data", static)
    session = ChatSession(client_id=b.client.id, session_key="b-session")
    db.session.add(session)
    db.session.commit()
    return {
        "connection_id": connection.id,
        "plugin_id": plugin.id,
        "session_id": session.id,
        "name": "b-provider",
    }


def _invitation(b: Tenant) -> AccountInvitation:
    """A pending invitation of account B (its owner's)."""
    invitation = AccountInvitation(
        account=b.account,
        email="invited@bravo.test",
        role=MemberRole.MEMBER,
        token_hash="b" * 64,
        invited_by=b.owner.email,
        expires_at=utcnow() + timedelta(days=7),
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def _snapshot() -> dict[str, list]:
    """Every row of every table (but when a token was last used, its user last seen)."""
    rows = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name not in ("last_used_at", "last_seen_at")]
        rows[table.name] = sorted(
            (tuple(map(repr, r)) for r in db.session.execute(select(*columns)).all()),
        )
    db.session.rollback()
    return rows


def _url(app: Flask, rule, values: dict[str, Any]) -> str:
    unknown = set(rule.arguments) - set(values)
    assert not unknown, f"{rule.rule}: no object of account B for {unknown}: add it to _ids"
    return re.sub(RULE_ARG, lambda m: str(values[m.group(1)]), rule.rule)


# Not object ids: a manifest's kind and name, whose account is the ?account= query
# (another account is a 403 alike whether it exists: tests/management/test_manifests_api.py).
NOT_IDS = {"filename", "kind", "name"}


def _object_rules(app: Flask, prefix: str):
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(prefix) and rule.arguments - NOT_IDS
        for method in sorted(rule.methods - SKIP_METHODS)
    ]


def test_every_management_route_is_covered(app: Flask):
    """The route table and the documented operations are the same set."""
    documented = {(o.method.upper(), re.sub(RULE_ARG, r"<\1>", o.rule)) for o in OPERATIONS}
    routed = {
        (method, re.sub(RULE_ARG, r"<\1>", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("management.")
        for method in rule.methods - SKIP_METHODS
    }
    assert routed == documented
    assert len(_object_rules(app, "management.")) >= 20


@pytest.mark.parametrize("who", ["member", "owner"])
def test_management_api_never_reaches_another_account(
    app: Flask, api, tenant_a: Tenant, tenant_b: Tenant, who: str
):
    caller = api(getattr(tenant_a, f"{who}_token"))
    ids = _ids(tenant_b)
    bodies = {(o.method.upper(), re.sub(RULE_ARG, r"<\1>", o.rule)): o.body for o in OPERATIONS}
    before = _snapshot()
    checked = []
    for rule, method in _object_rules(app, "management."):
        url = _url(app, rule, ids)
        body_model = bodies[(method, re.sub(RULE_ARG, r"<\1>", rule.rule.removeprefix("/api/v1")))]
        body = BODIES[body_model] if body_model is not None else None
        response = caller(method, url.removeprefix("/api/v1"), json=body)
        assert response.status_code in (403, 404), (method, url, response.get_json())
        assert response.get_json()["error"]["code"] in ("not_found", "forbidden", "admin_only")
        checked.append((method, url))
    assert _snapshot() == before
    assert len(checked) >= 20


def test_lists_show_only_the_callers_accounts(api, tenant_a: Tenant, tenant_b: Tenant):
    caller = api(tenant_a.member_token)
    accounts = caller("GET", "/accounts").get_json()
    assert [a["id"] for a in accounts["items"]] == [tenant_a.account.id]
    assert accounts["items"][0]["role"] == "member"
    runs = caller("GET", "/runs").get_json()["items"]
    assert [r["id"] for r in runs] == [tenant_a.run.id]


def _sign_in(http, email: str) -> None:
    page = http.get("/admin/login").get_data(as_text=True)
    response = http.post(
        "/admin/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302


@pytest.mark.parametrize("who", ["member", "owner"])
def test_console_never_reaches_another_account(
    app: Flask, tenant_a: Tenant, tenant_b: Tenant, who: str
):
    from app.models import PersonalAccessToken

    http = app.test_client()
    _sign_in(http, getattr(tenant_a, who).email)
    token = csrf_token(http.get("/admin/tokens").get_data(as_text=True))
    ids = _ids(tenant_b)
    ids["token_id"] = db.session.execute(
        select(PersonalAccessToken.token_id).where(
            PersonalAccessToken.user_id == getattr(tenant_b, who).id
        )
    ).scalar_one()
    before = _snapshot()
    rules = [
        (r, m) for r, m in _object_rules(app, "admin.") if r.endpoint != "admin.accept_invitation"
    ]
    for rule, method in rules:
        url = _url(app, rule, ids)
        data = {"csrf_token": token} if method == "POST" else None
        response = http.open(url, method=method, data=data)
        assert response.status_code in (403, 404), (method, url, response.status_code)
    assert _snapshot() == before
    assert len(rules) >= 15
