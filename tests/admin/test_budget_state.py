"""Budgets that warn: the account page's budget state (ok, near, exhausted since when,
what is refused), refusals (429) counted in the usage table, per-minute limit hits per
client and key, in the console and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.services import api_keys, limit_settings, usage
from app.services.budget_state import budget_state
from tests.admin.conftest import sign_in
from tests.test_limits import BODY, fresh_minute  # noqa: F401  (a fixture)


@pytest.fixture
def app(redis_app):
    return redis_app


def _path(client) -> str:
    return f"/api/v0/llm-clients/{client.id}/{client.name}/"


def _use(account, client, tokens: int, *, refused_budget: int = 0) -> None:
    """Put usage in the aggregates as chat turns would."""
    connection = db.session.connection()
    values = dict(account_id=account.id, client_id=client.id, client_name=client.name)
    usage.record(connection, **values, api_key_id=None, model="echo", prompt_tokens=tokens)
    for _ in range(refused_budget):
        usage.record(connection, **values, api_key_id=None, model="echo", refused="budget")
    db.session.commit()


def test_refusals_are_counted_per_client_and_key(
    app,
    admin,
    account,
    make_client,
    fresh_minute,  # noqa: F811
):
    alpha = make_client(account, "alpha", require_api_key=True)
    beta = make_client(account, "beta")
    key = api_keys.create_api_key(account, [], None, "website")
    limit_settings.set_rate_limits(key.api_key, requests_per_minute=1, by=None)
    limit_settings.set_rate_limits(beta, requests_per_minute=1, by=None)
    http = app.test_client()
    headers = {"x-api-key": key.plaintext}
    statuses = [http.post(_path(alpha), json=BODY, headers=headers).status_code for _ in range(2)]
    statuses += [http.post(_path(beta), json=BODY).status_code for _ in range(2)]
    assert statuses == [200, 429, 200, 429]
    limit_settings.set_budget(account, usage.tokens_this_month(account.id), by=None)
    other = api_keys.create_api_key(account, [], None, "other").plaintext
    refused = http.post(_path(alpha), json=BODY, headers={"x-api-key": other})
    assert refused.get_json()["error"]["code"] == "budget_exhausted"

    by_client = {row.group: row for row in usage.report(account_id=account.id, by="client")}
    assert [
        (r.requests, r.errors, r.refused_rate, r.refused_budget) for r in by_client.values()
    ] == [
        (1, 0, 1, 1),
        (1, 0, 1, 0),
    ]
    by_key = {row.group: row.refused_rate for row in usage.report(account_id=account.id, by="key")}
    assert sorted(by_key.values()) == [0, 1, 1] and by_key[key.api_key.key_id] == 1

    console = app.test_client()
    sign_in(console)
    page = console.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert "Refused (429)" in page and "(1 budget, 1 per minute)" in page
    assert 'data-testid="rate-hits-client"' in page and 'data-testid="rate-hits-key"' in page
    assert f"cdk_{key.api_key.key_id}_…" in page
    assert 'data-level="exhausted"' in page and "1 request refused by the budget" in page
    listed = app.test_cli_runner().invoke(
        args=["usage", "--account", account.account_number, "--by", "key"]
    )
    assert listed.exit_code == 0, listed.output
    assert f"{key.api_key.key_id}" in listed.output and "refused_rate=1" in listed.output
    assert ": exhausted since" in listed.output and "429 budget_exhausted" in listed.output


@pytest.mark.parametrize(
    ("used", "level", "words"),
    [
        (500, "ok", "(50%)"),
        (850, "near", "150 tokens are left"),
        (1000, "exhausted", "Every chat request of this account"),
    ],
)
def test_the_account_page_shows_the_budget_state(
    app, admin, account, make_client, used, level, words
):
    client = make_client(account, "alpha")
    limit_settings.set_budget(account, 1000, by=None)
    _use(account, client, used, refused_budget=1 if level == "exhausted" else 0)
    state = budget_state(account)
    assert (state.level, state.percent) == (level, used // 10)
    console = app.test_client()
    sign_in(console)
    page = console.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert f'data-level="{level}"' in page and words in page
    if level == "exhausted":
        today = datetime.now(UTC).date().isoformat()
        assert f'data-testid="budget-since">since {today}<' in page
    else:
        assert 'data-testid="budget-refusing"' in page or level == "ok"
