"""The console's plugins in a real browser (headless Chromium): create a plugin, test it,
attach it to a client, see the model's call in the sandbox and the conversation view; a
connection's password goes in and never comes back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services.users import create_admin
from tests.browser import chromium, screenshot
from tests.live import serve

EMAIL, PASSWORD = "ops@chatdock.test", "correct horse battery"
DB_PASSWORD = "console-Secret-pw-42"


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def test_create_test_attach_and_see_a_tool_call(browser, app, account, make_client):
    create_admin(EMAIL, PASSWORD)
    client = make_client(account, "shop")
    account_id, client_id, client_name = account.id, client.id, client.name
    with serve(app) as port:
        context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto("/admin/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        page.goto(f"/admin/accounts/{account_id}")
        page.get_by_role("link", name="Plugins").click()
        form = page.locator("#plugin-form")
        form.get_by_label("Name").fill("opening-hours")
        form.get_by_label("Spec (YAML or JSON)").fill(
            "type: static\ndescription: When the shop is open\nstatic: {data: {weekdays: 9-18}}"
        )
        form.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name="opening-hours")).to_be_visible()

        page.get_by_role("button", name="Test").click()
        expect(page.locator(".test-outcome")).to_have_text("ok")
        expect(page.locator(".test-result pre")).to_have_text('{"weekdays": "9-18"}')

        page.locator("#attach-form").get_by_label("Client").select_option(label=client_name)
        page.get_by_role("button", name="Attach").click()
        expect(page.locator(".attached")).to_have_text(client_name)

        chat = page.request.post(
            f"/api/v0/llm-clients/{client_id}/{client_name}/",
            data={"messages": [{"role": "user", "content": "/tool opening-hours {}"}]},
        )
        assert chat.ok, chat.text()
        assert chat.json()["reply"] == 'echo: opening-hours -> {"weekdays": "9-18"}'

        page.goto(f"/admin/clients/{client_id}/sandbox")  # the sandbox streams tool events
        page.get_by_label("Message").fill("/tool opening-hours {}")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".sandbox-tool")).to_have_text("tool opening-hours: ok")
        expect(page.locator('.sandbox-msg.assistant[data-done="true"]')).to_have_text(
            'echo: opening-hours -> {"weekdays": "9-18"}'
        )

        page.goto(f"/admin/clients/{client_id}")
        page.get_by_role("link", name="Conversations").click()
        expect(page.locator(".conversations a")).to_have_count(2)
        page.locator(".conversations a").last.click()  # the API's, the older one
        call = page.locator(".tool-call")
        expect(call).to_have_count(1)
        expect(call.locator("td").nth(1)).to_have_text("opening-hours")
        expect(call.locator(".tool-outcome")).to_have_text("ok")
        screenshot(page, "conversation-tool-call")

        page.goto(f"/admin/accounts/{account_id}/plugins")
        form = page.locator("#connection-form")
        form.get_by_label("Name").fill("shopdb")
        form.get_by_label("Spec (YAML or JSON)").fill(
            "type: sql\nsql: {url: 'postgresql://reader@db.example/shop', "
            f"password: {DB_PASSWORD}}}"
        )
        form.get_by_role("button", name="Save").click()
        expect(page.locator(".connections")).to_contain_text('"password": "set"')
        assert DB_PASSWORD not in page.content()
        context.close()
