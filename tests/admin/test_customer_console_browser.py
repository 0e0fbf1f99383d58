"""The console a customer lives in, in a real browser (headless Chromium, one per
module): an owner invites, the invitee accepts, the owner sees them and changes their
role, revokes a second invitation (its link then says so); the new member reads their
account's audit trail and not another's; a token page reload makes no second token; the
budget's state at 50 %, 85 % and exhausted. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from app.extensions import db
from app.models import MemberRole, PersonalAccessToken
from app.services import accounts, limit_settings, usage
from app.services.members import add_member
from app.services.users import create_admin, set_user
from tests.browser import chromium, screenshot
from tests.live import serve

ADMIN, OWNER, NEWCOMER = "ops@chatdock.test", "owner@acme.test", "new@acme.test"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def _page(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    return page


def _sign_in(browser: Browser, base_url: str, email: str) -> Page:
    page = _page(browser, base_url)
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


def _invite(page: Page, email: str) -> str:
    page.get_by_text("Invite someone").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("heading", name=f"{email} is invited")).to_be_visible()
    link = page.locator("#invitation-link").input_value()
    page.get_by_role("link", name="Done").click()
    return link


def test_an_owner_runs_the_members_and_a_member_reads_the_trail(browser, app):
    acme = accounts.create_account("Acme Corp")
    other = accounts.create_account("Other Corp")
    limit_settings.set_budget(other, 1000, by=None)  # an event of another account
    owner, _ = set_user(OWNER, PASSWORD, platform_admin=False)
    add_member(acme, owner, MemberRole.OWNER)
    number, other_number = acme.account_number, other.account_number
    with serve(app) as port:
        base_url = f"http://127.0.0.1:{port}"
        page = _sign_in(browser, base_url, OWNER)
        page.get_by_role("link", name="Accounts", exact=True).click()
        page.get_by_role("link", name=number, exact=True).click()
        link = _invite(page, NEWCOMER)
        wrong = _invite(page, "wrong@acme.test")

        newcomer = _page(browser, base_url)
        newcomer.goto(link)
        newcomer.get_by_label("Choose a password").fill(PASSWORD)
        newcomer.get_by_label("Repeat the password").fill(PASSWORD)
        screenshot(newcomer, "invitation-accept")
        newcomer.get_by_role("button", name="Join the account").click()
        expect(newcomer.get_by_text("You joined Acme Corp.")).to_be_visible()

        page.reload()
        row = page.locator("#members-table tr", has_text=NEWCOMER)
        expect(row).to_contain_text("member")
        row.get_by_role("button", name="Make owner").click()
        expect(page.get_by_text(f"{NEWCOMER} is now owner.")).to_be_visible()
        expect(page.locator("#members-table tr", has_text=NEWCOMER)).to_contain_text("owner")
        pending = page.locator("#invitations-table tr", has_text="wrong@acme.test")
        pending.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("revoked: its link no longer works")).to_be_visible()
        page.locator("#members").scroll_into_view_if_needed()
        screenshot(page, "account-members")
        newcomer.goto(wrong)
        expect(newcomer.locator("main")).to_contain_text("this invitation was revoked")

        newcomer.goto("/admin/")
        newcomer.get_by_role("link", name="Audit").click()
        table = newcomer.locator("#audit-table")
        expect(table).to_contain_text("accept")
        expect(table).to_contain_text(number)
        expect(table).not_to_contain_text(other_number)
        expect(table.locator(".actor-kind").first).to_be_visible()
        screenshot(newcomer, "member-audit")
        newcomer.get_by_label("Account number").fill(other_number)
        newcomer.get_by_role("button", name="Filter").click()
        expect(newcomer.get_by_text(f"no account {other_number}")).to_be_visible()
        expect(newcomer.locator("#audit-table")).to_have_count(0)

        newcomer.get_by_role("link", name="API tokens").click()
        newcomer.get_by_label("Label").fill("laptop")
        newcomer.get_by_role("button", name="Create token").click()
        secret = newcomer.locator("#new-token").input_value()
        assert secret.startswith("cdp_")
        expect(newcomer.get_by_role("button", name="Copy")).to_be_visible()
        screenshot(newcomer, "token-created")
        newcomer.reload()
        expect(newcomer.get_by_role("heading", name="Token already shown")).to_be_visible()
        expect(newcomer.locator("main")).not_to_contain_text(secret)
        newcomer.context.close()
        page.context.close()
    db.session.expire_all()
    assert db.session.execute(select(func.count(PersonalAccessToken.id))).scalar_one() == 1


def test_the_budget_state_at_a_glance(browser, app, make_client):
    create_admin(ADMIN, PASSWORD)
    acme = accounts.create_account("Acme Corp")
    client = make_client(acme, "support")
    limit_settings.set_budget(acme, 1000, by=None)
    values = dict(account_id=acme.id, client_id=client.id, client_name="support", model="echo")

    def use(tokens: int, refused: bool = False) -> None:
        connection = db.session.connection()
        usage.record(connection, **values, api_key_id=None, prompt_tokens=tokens)
        if refused:
            usage.record(connection, **values, api_key_id=None, refused="budget")
        db.session.commit()

    account_id = acme.id
    with serve(app) as port:
        page = _sign_in(browser, f"http://127.0.0.1:{port}", ADMIN)
        state = page.get_by_test_id("budget-state")
        for tokens, level, words, refused in (
            (500, "ok", "Budget OK", False),
            (350, "near", "Budget nearly used", False),
            (150, "exhausted", "Budget exhausted", True),
        ):
            use(tokens, refused)
            page.goto(f"/admin/accounts/{account_id}")
            expect(state).to_have_attribute("data-level", level)
            expect(state).to_contain_text(words)
            state.scroll_into_view_if_needed()
            screenshot(page, f"budget-{level}")
        expect(state).to_contain_text("Every chat request of this account's clients is refused")
        expect(page.get_by_test_id("budget-since")).to_be_visible()
        expect(page.locator("#usage-table")).to_contain_text("(1 budget, 0 per minute)")
        page.context.close()
