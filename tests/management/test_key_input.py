"""API keys' input, as an attacker sends it: a client listed twice (issue 21, item 13) and
labels with escape sequences or newlines (item 18) are refused with a clear error by the
API, the CLI and the console, and change nothing; every CLI table escapes control
characters whatever is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiKey, PersonalAccessToken
from app.services import api_keys
from tests.admin.conftest import post_form, sign_in
from tests.management.conftest import Tenant

EVIL_LABELS = ["ok\x1b[2J\x1b[31mhacked", "two\nlines", "tab\there", "rtl\u202egnp", "bell\x07"]


def keys() -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey))


def test_a_client_listed_twice_is_a_400_and_creates_nothing(api, tenant_a: Tenant):
    before = keys()
    url = f"/accounts/{tenant_a.account.id}/api-keys"
    cid = tenant_a.client.id
    response = api(tenant_a.owner_token)("POST", url, json={"client_ids": [cid, cid]})
    assert response.status_code == 400, response.get_json()
    assert "listed twice" in response.get_json()["error"]["message"]
    assert keys() == before


def test_flask_apikeys_create_refuses_a_client_given_twice(app, tenant_a: Tenant):
    before = keys()
    number = tenant_a.account.account_number
    result = app.test_cli_runner().invoke(
        args=["apikeys", "create", "--account", number, "--client", "bot", "--client", "bot"]
    )
    assert result.exit_code == 2, result.output
    assert "client 'bot' is listed twice" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert keys() == before


@pytest.mark.parametrize("label", EVIL_LABELS)
def test_the_api_refuses_control_characters_in_a_label(api, tenant_a: Tenant, label: str):
    before = keys()
    url = f"/accounts/{tenant_a.account.id}/api-keys"
    response = api(tenant_a.owner_token)("POST", url, json={"label": label})
    assert response.status_code == 400, response.get_json()
    assert "control characters" in response.get_json()["error"]["message"]
    assert keys() == before


@pytest.mark.parametrize("label", EVIL_LABELS)
def test_the_cli_refuses_control_characters_in_a_label(app, tenant_a: Tenant, label: str):
    before = keys()
    number = tenant_a.account.account_number
    result = app.test_cli_runner().invoke(
        args=["apikeys", "create", "--account", number, "--label", label]
    )
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output
    assert keys() == before


def test_the_console_refuses_control_characters_in_a_label(app, tenant_a: Tenant):
    before = keys()
    http = app.test_client()
    assert sign_in(http, tenant_a.owner.email).status_code == 302
    page = f"/admin/accounts/{tenant_a.account.id}"
    response = post_form(http, page, f"{page}/keys", {"label": "two\nlines\x1b[2J"})
    assert response.status_code == 302
    assert "control characters" in http.get(page).get_data(as_text=True)
    assert keys() == before


def test_cli_tables_escape_control_characters_already_stored(app, tenant_a: Tenant):
    """Rows written before the rule (or by hand) print escaped, one row a line."""
    stored = db.session.get(ApiKey, tenant_a.key.id)
    stored.label = "ok\x1b[2J\nEVIL ROW\u202e"
    token = db.session.execute(select(PersonalAccessToken)).scalars().first()
    token.label = "pat\x1b]0;title\x07"
    db.session.commit()
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["apikeys", "list", "--account", tenant_a.account.account_number])
    assert listing.exit_code == 0, listing.output
    assert "\x1b" not in listing.output and "\u202e" not in listing.output
    assert "ok\\x1b[2J\\nEVIL ROW\\u202e" in listing.output
    assert len(listing.output.strip().splitlines()) == 2  # the header and the one key
    owner = db.session.get(type(token.user), token.user_id).email
    tokens = runner.invoke(args=["tokens", "list", owner])
    assert tokens.exit_code == 0, tokens.output
    assert "\x1b" not in tokens.output and "\x07" not in tokens.output
    assert "pat\\x1b]0;title\\x07" in tokens.output


def test_the_service_refuses_both_and_keeps_a_clean_label(tenant_a: Tenant):
    issued = api_keys.create_api_key(tenant_a.account, label="  web — prod ✓ ")
    assert issued.api_key.label == "web — prod ✓"
