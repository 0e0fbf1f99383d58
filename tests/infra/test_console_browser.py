"""The console in a real browser (headless Chromium through Playwright) against a real
server, with real terraform against moto, Redis and a worker process behind it: what an
operator does on a first day. Screenshots of the main pages are kept as artifacts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.services.users import create_admin
from tests.browser import chromium, screenshot
from tests.infra.conftest import a_records
from tests.live import serve

EMAIL, PASSWORD = "ops@chatdock.test", "correct horse battery"
RUN_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@pytest.fixture
def site(infra_app):
    create_admin(EMAIL, PASSWORD)
    with serve(infra_app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(browser, site) -> Page:
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def sign_in(page: Page) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_refused_without_login(page: Page):
    for path in ["/admin/", "/admin/clients", "/admin/rq/"]:
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Invalid email or password.")).to_be_visible()
    screenshot(page, "login-refused")


@pytest.mark.one_machine  # SQLite pass only (tests/conftest.py)
def test_first_day_of_an_operator(page: Page, worker_process, route53, zone_id):
    worker_process()
    sign_in(page)
    screenshot(page, "overview-empty")

    # an account, then a client: a validation message next to the field first
    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_role("link", name="New account").click()
    page.get_by_label("Name").fill("Acme Corp")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Acme Corp")).to_be_visible()
    number = page.locator("code").first.inner_text()
    page.get_by_role("link", name="New client").click()
    page.get_by_label("Name", exact=True).fill("Support Bot")
    page.get_by_label("System prompt").fill("You answer support questions.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("invalid client name")
    screenshot(page, "client-form-validation")
    page.get_by_label("Name", exact=True).fill("support")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=re.compile("^support"))).to_be_visible()
    expect(page.locator(".status-badge").first).to_have_text("draft")

    # an API key, shown once
    page.get_by_role("link", name=number, exact=True).click()
    page.get_by_label("Label").fill("website")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").input_value()
    assert key.startswith("cdk_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    screenshot(page, "api-key-created")
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#keys")).to_contain_text(key.split("_")[1])
    assert key not in page.content()

    # deploy with review: the plan page refreshes by itself until the plan is ready
    page.get_by_role("link", name="support", exact=True).click()
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("button", name="Approve and apply")).to_be_visible(
        timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator('.plan-group[data-action="create"]')).to_contain_text(
        "aws_route53_record.default"
    )
    expect(page.locator(".attr-table").first).to_contain_text(f"support.{number}.")
    screenshot(page, "plan-review")
    page.get_by_role("button", name="Approve and apply").click()
    expect(page.locator("#run-status .status-badge")).to_have_text(
        "applied", timeout=RUN_TIMEOUT_MS
    )
    screenshot(page, "run-applied")
    assert len(a_records(route53, zone_id, f"support.{number}.api.chatdock.test")) == 1
    page.goto("/admin/clients")
    expect(page.locator(".clients-table .status-badge")).to_have_text("deployed")
    expect(page.locator(".host-link").first).to_have_text(f"support.{number}.api.chatdock.test")
    screenshot(page, "clients")

    # sandbox: a streamed reply
    page.get_by_role("link", name="Sandbox").click()
    page.get_by_label("Message").fill("hello there")
    page.get_by_role("button", name="Send").click()
    reply = page.locator('.sandbox-msg[data-role="assistant"]')
    expect(reply).to_have_text("echo: hello there")
    expect(reply).to_have_attribute("data-done", "true")
    screenshot(page, "sandbox")

    # the RQ dashboard, with our jobs
    page.goto("/admin/rq/")
    expect(page.get_by_text("chatdock").first).to_be_visible()
    screenshot(page, "rq-dashboard")


def test_phone_width_and_a_live_log_that_follows_its_end(browser, site, account, make_client):
    """A phone-width clients page fits the screen; a live run's log box opens at its end,
    keeps following it, and stays put when the reader scrolls back."""
    from app.extensions import db
    from app.models import InfraRun, RunKind, RunStatus

    client = make_client(account, "a-client-with-a-rather-long-name", deployed=True)
    run = InfraRun(
        workspace_key=f"clients/{account.account_number}/{client.name}",
        kind=RunKind.APPLY,
        status=RunStatus.PLANNING,  # live: the page polls its log
        client_id=client.id,
        account_id=account.id,
        account_number=account.account_number,
        target_name=client.name,
        log="".join(f"12:00:{i % 60:02d} terraform line {i}\n" for i in range(200)),
    )
    db.session.add(run)
    db.session.commit()
    context = browser.new_context(base_url=site, viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        sign_in(page)
        page.goto("/admin/clients")
        expect(page.locator(".clients-table")).to_be_visible()
        overflow = page.evaluate(
            "Math.max(document.documentElement.scrollWidth,"
            " document.querySelector('.clients-table').scrollWidth) - window.innerWidth"
        )
        assert overflow <= 0, f"the clients table is {overflow}px wider than a phone"
        screenshot(page, "clients-phone")

        page.goto(f"/admin/runs/{run.id}")
        log_box = page.locator("#run-log")
        expect(log_box).to_contain_text("terraform line 199")
        gap = "el => el.scrollHeight - el.scrollTop - el.clientHeight"
        assert log_box.evaluate(gap) < 24  # opens at the end
        run.log += "12:01:00 terraform line 200\n"
        db.session.commit()
        expect(log_box).to_contain_text("terraform line 200")
        page.wait_for_function(
            "() => { const el = document.getElementById('run-log');"
            " return el.scrollHeight - el.scrollTop - el.clientHeight < 24; }"
        )  # followed the new line
        log_box.evaluate("el => { el.scrollTop = 0; }")  # the reader scrolls back
        run.log += "12:01:01 terraform line 201\n"
        db.session.commit()
        expect(log_box).to_contain_text("terraform line 201")
        assert log_box.evaluate("el => el.scrollTop") == 0  # left where the reader is
    finally:
        context.close()
