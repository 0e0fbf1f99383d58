"""A customer in a real browser (headless Chromium) against a real server, terraform
against moto, Redis and a worker: a member signs in, creates a client and a key,
requests a deploy and sees it awaiting review; a platform admin approves; the member
sees the client live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from app.models import MemberRole
from app.services.accounts import create_account
from app.services.members import add_member
from app.services.users import create_admin, set_user
from tests.browser import chromium, screenshot
from tests.infra.conftest import a_records
from tests.live import serve

pytestmark = pytest.mark.one_machine  # SQLite pass only (tests/conftest.py)

ADMIN, MEMBER, PASSWORD = "ops@chatdock.test", "dev@acme.test", "correct horse battery"
RUN_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@pytest.fixture
def site(infra_app):
    create_admin(ADMIN, PASSWORD)
    account = create_account("Acme Corp")
    member, _ = set_user(MEMBER, PASSWORD, platform_admin=False)
    add_member(account, member, MemberRole.MEMBER)
    create_account("Other Corp")  # never shown to the member
    with serve(infra_app) as port:
        yield f"http://127.0.0.1:{port}", account.account_number


def _page(browser: Browser, base_url: str, email: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


def test_a_member_deploys_and_an_admin_approves(browser, site, worker_process, route53, zone_id):
    base_url, number = site
    worker_process()
    member = _page(browser, base_url, MEMBER)
    member.get_by_role("link", name="Accounts", exact=True).click()
    expect(member.locator("main")).not_to_contain_text("Other Corp")
    expect(member.get_by_role("link", name="New account")).to_have_count(0)
    member.get_by_role("link", name=number, exact=True).click()
    member.get_by_role("link", name="New client").click()
    member.get_by_label("Name", exact=True).fill("support")
    member.get_by_role("button", name="Save").click()
    expect(member.get_by_role("heading", name=re.compile("^support"))).to_be_visible()

    member.get_by_role("link", name=number, exact=True).click()
    member.get_by_label("Label").fill("website")
    member.get_by_role("button", name="Create key").click()
    assert member.locator("#new-key").input_value().startswith("cdk_")
    member.get_by_role("link", name="Done").click()

    member.get_by_role("link", name="support", exact=True).click()
    expect(member.get_by_label("Apply without review")).to_have_count(0)
    member.get_by_role("button", name="Deploy").click()
    expect(member.get_by_text("awaiting review by the platform")).to_be_visible(
        timeout=RUN_TIMEOUT_MS
    )
    expect(member.get_by_role("button", name="Approve and apply")).to_have_count(0)
    screenshot(member, "member-awaiting-review")
    run_url = member.url

    admin = _page(browser, base_url, ADMIN)
    admin.goto(run_url)
    admin.get_by_role("button", name="Approve and apply").click()
    expect(admin.locator("#run-status .status-badge")).to_have_text(
        "applied", timeout=RUN_TIMEOUT_MS
    )
    assert len(a_records(route53, zone_id, f"support.{number}.api.chatdock.test")) == 1

    member.goto("/admin/clients")
    expect(member.locator(".clients-table .status-badge")).to_have_text("deployed")
    expect(member.locator(".host-link").first).to_have_text(f"support.{number}.api.chatdock.test")
    screenshot(member, "member-client-live")
