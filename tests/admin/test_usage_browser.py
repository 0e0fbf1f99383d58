"""The usage charts in a real browser (headless Chromium): the vendored Chart.js loads
from the app (no CDN) and draws what the aggregates say."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services.users import create_admin
from tests.browser import chromium, screenshot
from tests.live import serve

EMAIL, PASSWORD = "ops@chatdock.test", "correct horse battery"


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def test_account_page_draws_requests_and_tokens_per_day(browser, app, account, make_client):
    create_admin(EMAIL, PASSWORD)
    client_ids = [make_client(account, name).id for name in ("alpha", "beta")]
    http = app.test_client()
    body = {"messages": [{"role": "user", "content": "hi there"}]}
    for client_id, name in [(client_ids[0], "alpha")] * 3 + [(client_ids[1], "beta")]:
        assert http.post(f"/api/v0/llm-clients/{client_id}/{name}/", json=body).status_code == 200
    account_id = account.id
    with serve(app) as port:
        context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
        context.set_default_timeout(20_000)
        requests_seen: list[str] = []
        context.on("request", lambda request: requests_seen.append(request.url))
        page = context.new_page()
        page.goto("/admin/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.goto(f"/admin/accounts/{account_id}")
        page.wait_for_function("document.getElementById('usage-requests').chart !== undefined")
        drawn = page.evaluate(
            """() => Object.fromEntries(
                document.getElementById('usage-requests').chart.data.datasets.map(
                    (d) => [d.label, d.data.reduce((a, b) => a + b, 0)]))"""
        )
        screenshot(page, "account-usage")
        context.close()
    assert drawn == {"alpha": 3, "beta": 1}
    assert all(url.startswith(f"http://127.0.0.1:{port}/") for url in requests_seen)
