"""The widget in a real browser (headless Chromium): a customer's page on another origin
embeds ``widget.js``, opens it and sees the reply stream in, with no API key anywhere in
the page; a site the client does not list gets no chat and its requests are refused; an
identified user finds their conversation on another device, a forged hash is refused;
model output is rendered inert. Client hosts are ``{name}.{account}.api.localhost``
(Chromium resolves ``*.localhost`` to loopback); the customer's site is
``http://127.0.0.1:{port}`` (listed) and ``http://localhost:{port}`` (not listed).
Screenshots of the widget open on a desktop and a phone go to docs/images/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.domains.publish import user_hash
from app.extensions import db
from app.models import AuditEvent
from app.services import api_keys, publish
from tests.browser import chromium, screenshot
from tests.conftest import _empty_tables
from tests.live import serve
from tests.llm.wire_servers import WireServer

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
MARKDOWN_REPLY = (
    "Here is **bold** text, a list:\n\n- one\n- two\n\nand [the docs](https://example.com/docs)."
)


@pytest.fixture(scope="module", autouse=True)
def patient_expect():
    """A loaded 2-core machine: give the browser 15 s, not expect's 5 s (then put it back)."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def model():
    server = WireServer("openai").start()
    server.behaviour.text = MARKDOWN_REPLY
    server.behaviour.delta_interval = 0.05
    yield server
    server.stop()


@pytest.fixture
def app(make_app, model):
    application = make_app(
        CUSTOMER_API_DOMAIN="api.localhost",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=model.base_url,
    )
    with application.app_context():
        _empty_tables()
        yield application
        db.session.remove()


PAGES: dict[str, str] = {}


def customer_site() -> Flask:
    """The customer's website: pages whose HTML the test sets."""
    site = Flask("customer_site")

    @site.get("/<name>")
    def page(name: str):
        return PAGES.get(name, ("not found", 404))

    return site


@pytest.fixture
def servers(app):
    """(chatdock's port, the customer site's port)."""
    with serve(app) as port, serve(customer_site()) as shop_port:
        yield port, shop_port


def customer_page(name: str, widget_src: str, attributes: str = "") -> str:
    PAGES[name] = f"""<!doctype html><html><head><title>Acme shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ font-family: Georgia, serif; background: #fdf6e3; margin: 40px; }}
button {{ background: red !important; }} iframe {{ border: 5px solid red; }}</style></head>
<body><h1>Acme shop</h1><p>Our catalogue, our prices, our friendly staff.</p>
<script src="{widget_src}" async {attributes}></script></body></html>"""
    return name


def context_page(browser: Browser, phone: bool = False) -> Page:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda message: print("console:", message.text))
    return page


def client_base(client, port: int) -> str:
    return f"http://{client.name}.{client.account.account_number}.api.localhost:{port}"


def chat_frame(page: Page, title: str):
    return page.frame_locator(f'iframe[title="{title}"]')


def test_a_customer_page_embeds_the_widget_and_the_reply_streams_in(
    browser, http, account, make_client, servers
):
    port, shop_port = servers
    site = f"http://127.0.0.1:{shop_port}"
    client = make_client(
        account,
        "shopbot",
        provider="openai",
        require_api_key=True,
        allowed_origins=[site],
        appearance={
            "displayName": "Acme help",
            "welcomeMessage": "Hello! I answer questions about your orders.",
            "examplePrompts": ["Where is my order?", "How do I return an item?"],
            "placeholder": "Ask about an order…",
            "accentColor": "#0f766e",
        },
    )
    secret_key = api_keys.create_api_key(account, label="server").plaintext
    base = client_base(client, port)
    name = customer_page("shop", f"{base}/widget.js", 'data-position="right"')

    for phone in (False, True):
        page = context_page(browser, phone)
        sent_headers: list[dict[str, str]] = []
        page.on("request", lambda request, seen=sent_headers: seen.append(request.headers))
        page.goto(f"{site}/{name}")
        page.get_by_role("button", name="Open the chat: Acme help").click()
        frame = chat_frame(page, "Acme help")
        expect(frame.get_by_text("Hello! I answer questions about your orders.")).to_be_visible()
        if phone:
            screenshot(page, "publish-widget-phone-empty")
            frame.get_by_label("Your message").fill("What's new?")
            frame.get_by_label("Your message").press("Enter")
            expect(frame.locator(".msg-assistant .bubble").last).to_contain_text("the docs")
            page.screenshot(path=str(IMAGES / "publish-widget-phone.png"))
            page.context.close()
            continue
        inner = page.frames[-1]
        inner.evaluate(
            """() => { window.__seen = [];
            new MutationObserver(() => {
              const b = document.querySelectorAll('.msg-assistant .bubble');
              window.__seen.push(b[b.length - 1].textContent);
            }).observe(document.getElementById('chat-log'),
                       {subtree: true, childList: true, characterData: true}); }"""
        )
        box = frame.get_by_label("Your message")
        box.fill("Where is my order?")
        box.press("Enter")  # the keyboard alone
        reply = frame.locator(".msg-assistant .bubble").last
        expect(reply).to_contain_text("and the docs.")
        expect(reply.locator("strong")).to_have_text("bold")
        expect(reply.locator("li")).to_have_count(2)
        expect(reply.get_by_role("link", name="the docs")).to_have_attribute(
            "href", "https://example.com/docs"
        )
        seen = [text for text in inner.evaluate("window.__seen") if text]
        final = reply.text_content()
        partial = [text for text in seen if text != final and final.startswith(text[:10])]
        assert len(set(partial)) >= 3, seen  # it arrived piece by piece
        page.screenshot(path=str(IMAGES / "publish-widget-desktop.png"))

        # No key anywhere: the page, widget.js, the chat page and every request.
        widget_js = http.get("/widget.js", headers={"Host": base.split("//")[1]}).text
        for text in (page.content(), widget_js, inner.content()):
            assert secret_key not in text and "cdk_" not in text
        assert not any("x-api-key" in h or "cdk_" in str(h) for h in sent_headers)

        # The conversation survives a reload (its session key kept in the browser).
        page.reload()
        page.get_by_role("button", name="Open the chat: Acme help").click()
        expect(chat_frame(page, "Acme help").locator(".msg-user")).to_have_text(
            "Where is my order?"
        )
        page.context.close()


def test_a_site_not_listed_gets_no_chat_and_its_requests_are_refused(
    browser, http, account, make_client, servers
):
    port, shop_port = servers
    client = make_client(account, "shopbot", allowed_origins=[f"http://127.0.0.1:{shop_port}"])
    base = client_base(client, port)
    name = customer_page("copycat", f"{base}/widget.js", 'data-open="true"')
    PAGES["framer"] = f'<!doctype html><iframe title="stolen" src="{base}/"></iframe>'
    page = context_page(browser)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    foreign = f"http://localhost:{shop_port}"
    page.goto(f"{foreign}/{name}")
    page.wait_for_load_state("networkidle")  # the widget asked for /config, and was refused
    assert f"{base}/config" in failed
    host = {"Host": base.split("//")[1], "Origin": foreign}
    assert http.get("/config", headers=host).status_code == 403  # what the browser was told
    expect(page.locator("[data-chatdock]")).to_have_count(0)
    expect(page.locator("iframe")).to_have_count(0)
    # Its own script calling chatdock directly is refused too.
    outcome = page.evaluate(
        """async (base) => {
          try { await fetch(base + '/widget/token', {method: 'POST', body: '{}',
                  headers: {'Content-Type': 'application/json'}}); return 'read'; }
          catch (e) { return 'blocked'; } }""",
        base,
    )
    assert outcome == "blocked" and f"{base}/widget/token" in failed
    assert http.post("/widget/token", json={}, headers=host).status_code == 403
    # Framing the chat page itself: refused by frame-ancestors (the frame stays empty).
    page.goto(f"{foreign}/framer")
    page.wait_for_timeout(500)
    framed = [f for f in page.frames if f.url.startswith(base)]
    assert all(f.locator("#chat-form").count() == 0 for f in framed)
    assert all(f.locator("#chat-form").count() == 0 for f in page.frames)
    page.context.close()


def test_an_identified_user_finds_their_history_and_a_forged_hash_is_refused(
    browser, account, make_client, servers
):
    port, shop_port = servers
    site = f"http://127.0.0.1:{shop_port}"
    client = make_client(
        account,
        "members",
        allowed_origins=[site],
        identity="required",
        appearance={"displayName": "Members desk"},
    )
    secret = publish.rotate_identity_secret(client)
    name = customer_page("account", f"{client_base(client, port)}/widget.js")

    def visit(user: str, hashed: str) -> Page:
        page = context_page(browser)  # a new context: another device, empty storage
        page.goto(f"{site}/{name}")
        page.wait_for_function("window.chatdock !== undefined")
        page.evaluate("([u, h]) => window.chatdock.identify(u, h)", [user, hashed])
        page.get_by_role("button", name="Open the chat: Members desk").click()
        return page

    laptop = visit("ann", user_hash(secret, "ann"))
    frame = chat_frame(laptop, "Members desk")
    frame.get_by_label("Your message").fill("my order is 4242")
    frame.get_by_role("button", name="Send").click()
    expect(frame.locator(".msg-assistant .bubble").last).to_contain_text("echo: my order is 4242")
    laptop.context.close()

    phone = visit("ann", user_hash(secret, "ann"))
    expect(chat_frame(phone, "Members desk").locator(".msg-user")).to_have_text("my order is 4242")
    phone.context.close()

    forger = visit("ann", user_hash(secret, "mallory"))
    frame = chat_frame(forger, "Members desk")
    expect(frame.get_by_role("status")).to_contain_text("the user hash does not match")
    expect(frame.locator(".msg-user")).to_have_count(0)
    forger.context.close()
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identity_refused")
    ).all()
    assert [event.changes["user_id"][1] for event in refused] == ["ann"]


def test_model_output_is_rendered_inert(browser, account, make_client, servers):
    port, _ = servers
    client = make_client(account, "open", appearance={"displayName": "Open desk"})
    page = context_page(browser)
    page.goto(f"{client_base(client, port)}/")  # the hosted chat page, opened directly
    attack = (
        '<img src=x onerror="window.__pwned=1"> and [click me](javascript:window.__pwned=2) '
        "and [ok](https://example.com)"
    )
    page.get_by_label("Your message").fill(attack)
    page.get_by_label("Your message").press("Enter")
    reply = page.locator(".msg-assistant .bubble").last
    expect(reply).to_contain_text('echo: <img src=x onerror="window.__pwned=1">')
    expect(page.locator("#chat-log img")).to_have_count(0)
    expect(reply.locator("a")).to_have_count(1)
    expect(reply.locator("a")).to_have_attribute("href", "https://example.com/")
    expect(reply).to_contain_text("click me")
    assert page.evaluate("window.__pwned") is None
    for link in page.locator("#chat-log a").all():
        assert not re.match(r"\s*javascript:", link.get_attribute("href") or "", re.I)
    screenshot(page, "publish-chat-page-direct")
    page.context.close()


def test_the_widget_renews_its_token_before_it_expires(browser, account, make_client, servers):
    port, shop_port = servers
    site = f"http://127.0.0.1:{shop_port}"
    client = make_client(account, "renew", require_api_key=True, allowed_origins=[site])
    base = client_base(client, port)
    name = customer_page("renew", f"{base}/widget.js")
    page = context_page(browser)
    page.clock.install()
    tokens: list[int] = []
    page.on(
        "response",
        lambda r: r.url == f"{base}/widget/token" and r.request.method == "POST"
        and tokens.append(r.status),
    )  # fmt: skip
    page.goto(f"{site}/{name}")
    page.get_by_role("button", name=re.compile("Open the chat")).click()
    frame = chat_frame(page, "renew")
    expect(frame.get_by_label("Your message")).to_be_enabled()
    page.wait_for_load_state("networkidle")
    assert tokens == [200]
    page.clock.run_for(7 * 60 * 1000)  # 70% of the token's 600 s: not yet renewed
    assert tokens == [200]
    with page.expect_response(f"{base}/widget/token") as renewed:
        page.clock.run_for(90 * 1000)  # past 80%: renewed
    assert renewed.value.status == 200 and tokens == [200, 200]
    frame.get_by_label("Your message").fill("still there?")
    frame.get_by_label("Your message").press("Enter")
    expect(frame.locator(".msg-assistant .bubble").last).to_have_text("echo: still there?")
    page.context.close()
