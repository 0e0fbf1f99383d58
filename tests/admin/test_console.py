"""The console through Flask's test client: access rules, forms and their validation,
keys shown once, error pages. (Browser tests with Chromium are in test_browser.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, LlmClient
from app.services import accounts as account_service
from tests.admin.conftest import csrf_token, post_form, sign_in
from tests.catalog_support import old_row, put_on
from tests.conftest import host_of

PAGES = ["/admin/", "/admin/accounts", "/admin/clients", "/admin/domains", "/admin/runs"]


@pytest.mark.parametrize("path", [*PAGES, "/admin/accounts/new", "/admin/rq/"])
def test_every_page_needs_a_signed_in_admin(http, path):
    response = http.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_wrong_password_is_refused_without_saying_which_part(app, admin):
    http = app.test_client()
    response = sign_in(http, password="not the password")
    assert response.status_code == 401
    assert "Invalid email or password." in response.get_data(as_text=True)
    assert http.get("/admin/").status_code == 302
    response = sign_in(http, email="nobody@chatdock.test")
    assert response.status_code == 401


def test_login_needs_the_csrf_token(app, admin):
    http = app.test_client()
    response = http.post("/admin/login", data={"email": admin.email, "password": "x" * 20})
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)


def test_signed_in_pages_render_with_empty_states(console):
    for path in PAGES:
        response = console.get(path)
        assert response.status_code == 200, path
        assert "empty-state" in response.get_data(as_text=True), path


def test_next_never_leaves_the_console(app, admin):
    http = app.test_client()
    page = http.get("/admin/login?next=https://evil.example/").get_data(as_text=True)
    response = http.post(
        "/admin/login?next=https://evil.example/",
        data={
            "email": admin.email,
            "password": "correct horse battery",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.headers["Location"] == "/admin/"


def test_logout_ends_the_session(console):
    response = post_form(console, "/admin/", "/admin/logout")
    assert response.status_code == 302
    assert console.get("/admin/").status_code == 302


def test_create_account_and_client_with_validation_next_to_fields(console, app):
    response = post_form(
        console, "/admin/accounts/new", "/admin/accounts/new", {"name": "Acme", "contact_email": ""}
    )
    assert response.status_code == 302
    account = account_service.list_accounts()[0]
    form_url = f"/admin/accounts/{account.id}/clients/new"
    bad = post_form(
        console,
        form_url,
        form_url,
        {"name": "Not A Label", "provider": "echo", "temperature": "5", "max_tokens": "10"},
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200
    assert "invalid client name" in page and "less than or equal to 2" in page
    assert db.session.execute(select(LlmClient)).first() is None
    good = post_form(
        console,
        form_url,
        form_url,
        {
            "name": "bot",
            "provider": "echo",
            "temperature": "0.5",
            "max_tokens": "100",
            "allowed_origins": "https://www.example.com\n",
        },
    )
    assert good.status_code == 302
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert client.allowed_origins == ["https://www.example.com"] and client.temperature == 0.5


def test_edit_keeps_the_name_and_reports_errors(console, account, make_client):
    client = make_client(account, "bot")
    url = f"/admin/clients/{client.id}/edit"
    bad = post_form(console, url, url, {"name": "bot", "provider": "echo", "max_tokens": "0"})
    assert "greater than or equal to 1" in bad.get_data(as_text=True)
    ok = post_form(
        console,
        url,
        url,
        {
            "name": "renamed",
            "provider": "echo",
            "system_prompt": "Be brief.",
            "max_tokens": "64",
            "temperature": "0.1",
        },
    )
    assert ok.status_code == 302  # the name field is read-only: a posted name is ignored
    db.session.refresh(client)
    assert client.name == "bot"
    ok = post_form(
        console,
        url,
        url,
        {
            "name": "bot",
            "provider": "echo",
            "system_prompt": "Be brief.",
            "max_tokens": "64",
            "temperature": "0.1",
        },
    )
    assert ok.status_code == 302
    db.session.refresh(client)
    assert client.system_prompt == "Be brief." and client.max_tokens == 64


def test_a_key_is_shown_once_and_stored_hashed(console, account, make_client):
    make_client(account, "bot")
    url = f"/admin/accounts/{account.id}"
    response = post_form(console, url, f"{url}/keys", {"label": "ci", "expires_in_days": "30"})
    assert response.status_code == 303  # post/redirect/get: a reload re-posts nothing
    key = db.session.execute(select(ApiKey)).scalar_one()
    shown = console.get(response.headers["Location"])
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    page = shown.get_data(as_text=True)
    plaintext = page.split('id="new-key"')[1].split('value="')[1].split('"')[0]
    assert plaintext.startswith(f"cdk_{key.key_id}_")
    assert plaintext not in console.get(url).get_data(as_text=True)
    assert key.secret_hash not in page and plaintext.split("_", 2)[2] not in key.secret_hash
    reloaded = console.get(response.headers["Location"]).get_data(as_text=True)
    assert plaintext not in reloaded and "was shown once" in reloaded
    assert len(db.session.execute(select(ApiKey)).all()) == 1


def test_revoking_twice_says_it_already_was(console, account):
    from app.services.api_keys import create_api_key

    issued = create_api_key(account, [], expires_in_days=None, label="")
    url = f"/admin/accounts/{account.id}"
    first = post_form(console, url, f"/admin/keys/{issued.api_key.key_id}/revoke")
    assert f"Key {issued.api_key.key_id} revoked." in console.get(first.headers["Location"]).text
    again = post_form(console, url, f"/admin/keys/{issued.api_key.key_id}/revoke")
    assert "was already revoked" in console.get(again.headers["Location"]).text


def test_error_pages_have_the_console_look(console, app):
    page = console.get("/admin/clients/999")
    assert page.status_code == 404
    assert "Back to the console" in page.get_data(as_text=True)
    assert console.get("/admin/no-such-page").status_code == 404
    assert "Back to the console" in console.get("/admin/no-such-page").get_data(as_text=True)


def test_the_console_is_not_served_on_client_hosts(console, account, make_client):
    client = make_client(account, "bot")
    assert console.get("/admin/", headers={"Host": host_of(client)}).status_code == 404


def test_sandbox_chats_with_an_undeployed_client(console, account, make_client):
    client = make_client(account, "draft-bot", deployed=False)
    page = console.get(f"/admin/clients/{client.id}/sandbox").get_data(as_text=True)
    response = console.post(
        f"/admin/clients/{client.id}/sandbox/chat",
        json={"messages": [{"role": "user", "content": "hello"}], "stream": True},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "event: session" in body and "echo: hello" in body.replace('"delta": "', "")
    without_token = console.post(
        f"/admin/clients/{client.id}/sandbox/chat",
        json={"messages": [{"role": "user", "content": "hello"}], "stream": True},
    )
    assert without_token.status_code == 400


def test_the_sandbox_gets_the_servers_message_not_an_html_page(console, account, make_client):
    client = make_client(account, "gpt-bot", provider="openai", deployed=False)
    page = console.get(f"/admin/clients/{client.id}/sandbox").get_data(as_text=True)
    response = console.post(
        f"/admin/clients/{client.id}/sandbox/chat",
        json={"messages": [{"role": "user", "content": "hello"}], "stream": True},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.get_json()["error"]["message"]


def test_a_stale_plan_is_refused_with_the_reason(console, account, make_client):
    from app.models import InfraRun, RunKind, RunStatus

    client = make_client(account, "bot", deployed=False)
    run = InfraRun(
        workspace_key=f"clients/{account.account_number}/bot",
        kind=RunKind.APPLY,
        status=RunStatus.AWAITING_APPROVAL,
        client_id=client.id,
        account_id=account.id,
        account_number=account.account_number,
        target_name="bot",
        config_hash="0" * 64,
        plan_file="run-1.tfplan",
        plan_summary={"changes": []},
    )
    db.session.add(run)
    db.session.commit()
    url = f"/admin/runs/{run.id}"
    assert "Approve and apply" in console.get(url).get_data(as_text=True)
    response = post_form(console, url, f"{url}/approve")
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "plan is stale (the configuration changed since this plan was made)" in page
    assert "flask clients deploy bot" in page
    db.session.refresh(run)
    assert run.status == RunStatus.DISCARDED


def test_delete_asks_first_and_a_refusal_loses_nothing(console, account, make_client):
    client = make_client(account, "bot")
    url = f"/admin/clients/{client.id}/delete"
    page = console.get(url).get_data(as_text=True)
    assert "Delete bot?" in page and "cannot be undone" in page
    response = post_form(console, url, url)  # no Redis here: the run cannot be queued
    assert response.headers["Location"] == f"/admin/clients/{client.id}"
    assert "REDIS_URL" in console.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(LlmClient, client.id) is not None


def test_clients_on_a_deprecated_model_are_marked(console, account, make_client):
    client = put_on(make_client(account, "old-bot"), old_row("openai", "gpt-5", 400_000))
    for url in ("/admin/clients", f"/admin/clients/{client.id}"):
        page = console.get(url).get_data(as_text=True)
        assert "deprecated: use gpt-5.4" in page, url
    # editing other settings keeps the deprecated model (no forced move)
    url = f"/admin/clients/{client.id}/edit"
    response = post_form(
        console,
        url,
        url,
        {
            "name": "old-bot",
            "provider": "openai",
            "model": "openai/gpt-5",
            "max_tokens": "50",
            "temperature": "0.2",
        },
    )
    assert response.status_code == 302
    db.session.refresh(client)
    assert client.model == "gpt-5" and client.max_tokens == 50
    # choosing it anew is refused, next to the field
    edit_page = console.get(url).get_data(as_text=True)
    assert 'selected value="openai/gpt-5"' in edit_page  # its own model stays selectable
    response = post_form(
        console, url, url, {"name": "old-bot", "provider": "openai", "model": "openai/gpt-4-turbo"}
    )
    assert "was deleted; use gpt-4.1" in response.get_data(as_text=True)


def test_the_model_is_chosen_from_the_catalog_grouped_by_provider(console, account):
    page = console.get(f"/admin/accounts/{account.id}/clients/new").get_data(as_text=True)
    for provider in ("echo", "openai", "anthropic"):
        assert f'<optgroup label="{provider}">' in page
    assert 'value="echo/echo-1"' in page and 'value="openai/gpt-5"' not in page  # deprecated
    url = f"/admin/accounts/{account.id}/clients/new"
    response = post_form(
        console, url, url, {"name": "picked", "provider": "echo", "model": "openai/gpt-5.4"}
    )
    assert response.status_code == 302
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert (client.provider, client.model) == ("openai", "gpt-5.4")


def test_client_pages_show_serving_and_the_pending_change_apart(console, account, make_client):
    """A deployed client whose latest change failed reads as live, with the failure."""
    from app.models import InfraRun, RunKind, RunStatus

    client = make_client(account, "steady")  # served (deployed without infrastructure)
    run = InfraRun(
        workspace_key=f"clients/{account.account_number}/steady",
        kind=RunKind.APPLY,
        status=RunStatus.ERRORED,
        client_id=client.id,
        account_id=account.id,
        account_number=account.account_number,
        target_name="steady",
        error="AWS endpoint unreachable",
    )
    db.session.add(run)
    db.session.commit()
    failed = f"last change failed (run {run.id}): AWS endpoint unreachable"
    page = console.get(f"/admin/clients/{client.id}").get_data(as_text=True)
    assert f"live on {host_of(client)}" in page
    assert failed in page
    for path in ("/admin/clients", f"/admin/accounts/{account.id}"):
        assert failed in console.get(path).get_data(as_text=True), path


def test_the_domains_page_adds_a_domain_for_a_chosen_account(console, account):
    page = console.get("/admin/domains").get_data(as_text=True)
    assert "Add domain" in page and f"({account.account_number})</option>" in page
    refused = post_form(
        console,
        "/admin/domains",
        "/admin/domains",
        {"account": str(account.id), "domain": "not a domain"},
    )
    assert refused.status_code == 302 and refused.headers["Location"] == "/admin/domains"
    shown = console.get("/admin/domains").get_data(as_text=True)
    assert "alert-danger" in shown  # the service's reason, on the page the form was on


def test_a_new_domain_waits_for_its_delegation_before_it_shows_failed(console, account):
    from datetime import timedelta

    from app.models import CustomDomain, DomainStatus
    from app.models.common import utcnow

    domain = CustomDomain(
        account=account,
        domain="shop.example",
        status=DomainStatus.FAILED,  # the first check, right after the zone was made
        zone_id="Z1",
        name_servers=["ns-1.awsdns.test", "ns-2.awsdns.test"],
        last_check_result="shop.example does not exist (NXDOMAIN)",
        next_check_at=utcnow() + timedelta(minutes=1),
        verify_deadline=utcnow() + timedelta(hours=48),
    )
    db.session.add(domain)
    db.session.commit()
    page = console.get(f"/admin/domains/{domain.id}").get_data(as_text=True)
    assert 'data-status="waiting for delegation"' in page and "waiting-delegation" in page
    assert "shop.example.  NS  ns-1.awsdns.test." in page
    assert 'data-status="waiting for delegation"' in console.get("/admin/domains").text
    domain.next_check_at = None  # the window is over: no more re-checks
    db.session.commit()
    page = console.get(f"/admin/domains/{domain.id}").get_data(as_text=True)
    assert 'data-status="failed"' in page and "waiting-delegation" not in page
