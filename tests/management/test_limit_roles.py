"""Who sets the spending controls (issue 21, item 3): the monthly token budget is the
platform's (platform admins, the operator's CLI); the per-minute limits of a client or an
API key are the customer's own (the account's owners, and platform admins). A plain
member changes neither, whatever surface they use."""

from __future__ import annotations

import pytest
from flask import g

from app.errors import Forbidden
from app.extensions import db
from app.models import Account, ApiKey, LlmClient
from app.services import limit_settings
from tests.admin.conftest import post_form, sign_in
from tests.management.conftest import PASSWORD, Tenant

BUDGET, RPM, TPM = 50_000, 7, 900


@pytest.fixture
def limited(tenant_a: Tenant) -> Tenant:
    limit_settings.set_budget(tenant_a.account, BUDGET, by=None)
    limit_settings.set_rate_limits(
        tenant_a.client, requests_per_minute=RPM, tokens_per_minute=TPM, by=None
    )
    limit_settings.set_rate_limits(tenant_a.key, requests_per_minute=RPM, by=None)
    return tenant_a


def _signed_in(app, email: str):
    g.pop("csrf_token", None)  # the test's app context (and g) outlives each client
    http = app.test_client()
    assert sign_in(http, email, PASSWORD).status_code == 302
    return http


def _limits(t: Tenant) -> tuple:
    db.session.expire_all()
    account = db.session.get(Account, t.account.id)
    client = db.session.get(LlmClient, t.client.id)
    key = db.session.get(ApiKey, t.key.id)
    return (
        account.monthly_token_budget,
        client.requests_per_minute,
        client.tokens_per_minute,
        key.requests_per_minute,
    )


def _lift_everything(http, t: Tenant):
    """What the probe did: post the console's two forms with every limit removed."""
    account_page = f"/admin/accounts/{t.account.id}"
    client_page = f"/admin/clients/{t.client.id}"
    budget = post_form(http, account_page, f"{account_page}/limits", {"monthly_tokens": "0"})
    budget_said = http.get(budget.location).get_data(as_text=True)
    rates = post_form(
        http,
        client_page,
        f"{client_page}/limits",
        {"requests_per_minute": "0", "tokens_per_minute": "0"},
    )
    rates_said = http.get(rates.location).get_data(as_text=True)
    assert budget.status_code == rates.status_code == 302
    return budget_said, rates_said


def test_a_member_lifts_no_limit_in_the_console(app, limited: Tenant):
    http = _signed_in(app, limited.member.email)
    account_page, client_page = _lift_everything(http, limited)
    assert _limits(limited) == (BUDGET, RPM, TPM, RPM)
    assert "only platform admins may set an account&#39;s monthly token budget" in account_page
    assert 'name="monthly_tokens"' not in account_page  # no form to fill in
    assert "The platform&#39;s admins set the monthly token budget." in account_page
    assert "only an owner of this account may set its rate limits" in client_page
    assert 'name="requests_per_minute"' not in client_page
    assert f"Rate limits: {RPM} requests and {TPM} tokens per minute" in client_page


def test_an_owner_sets_the_rate_limits_but_not_the_budget(app, limited: Tenant):
    http = _signed_in(app, limited.owner.email)
    account_page, client_page = _lift_everything(http, limited)
    assert _limits(limited) == (BUDGET, None, None, RPM)
    assert "Limits saved." in client_page and 'name="requests_per_minute"' in client_page
    assert "only platform admins may set" in account_page
    assert 'name="monthly_tokens"' not in account_page


def test_a_platform_admin_sets_both_in_the_console(app, limited: Tenant, admin_token: str):
    http = _signed_in(app, "root@chatdock.test")
    page = f"/admin/accounts/{limited.account.id}"
    assert 'name="monthly_tokens"' in http.get(page).get_data(as_text=True)
    account_page, client_page = _lift_everything(http, limited)
    assert "Budget saved." in account_page and "Limits saved." in client_page
    assert _limits(limited) == (None, None, None, RPM)


def test_the_service_decides_for_every_surface(limited: Tenant):
    with pytest.raises(Forbidden, match="only platform admins"):
        limit_settings.set_budget(limited.account, 0, by=limited.owner)
    for target in (limited.client, limited.key):
        with pytest.raises(Forbidden, match="only an owner"):
            limit_settings.set_rate_limits(target, requests_per_minute=0, by=limited.member)
    db.session.rollback()
    assert _limits(limited) == (BUDGET, RPM, TPM, RPM)
    limit_settings.set_rate_limits(limited.key, requests_per_minute=0, by=limited.owner)
    assert _limits(limited) == (BUDGET, RPM, TPM, None)


def test_another_accounts_owner_is_not_found(limited: Tenant, tenant_b: Tenant):
    with pytest.raises(Exception, match="not found"):
        limit_settings.set_rate_limits(limited.client, requests_per_minute=0, by=tenant_b.owner)
    db.session.rollback()
    assert _limits(limited) == (BUDGET, RPM, TPM, RPM)


def test_the_operators_cli_sets_both(app, limited: Tenant):
    number = limited.account.account_number
    result = app.test_cli_runner().invoke(
        args=["limits", "set", "--account", number, "--monthly-tokens", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "monthly_token_budget: 50000 -> none" in result.output
    assert _limits(limited)[0] is None
