"""Publishing in the console: the client form sets the chat page's presentation and the
widget's visitors (bad values answered next to their field, nothing changed); the
identity secret is made with one button and shown once."""

from __future__ import annotations

from app.extensions import db
from tests.admin.conftest import post_form

FORM = {
    "name": "bot",
    "provider": "echo",
    "max_tokens": "64",
    "temperature": "0.5",
    "allowed_origins": "https://shop.example.com",
}


def test_the_client_form_sets_the_presentation(console, account, make_client):
    client = make_client(account, "bot", allowed_origins=["https://shop.example.com"])
    url = f"/admin/clients/{client.id}/edit"
    bad = post_form(
        console, url, url, {**FORM, "logo_url": "http://cdn.example.com/l.png", "identity": "off"}
    )
    assert bad.status_code == 200
    assert "the logo URL must be an https:// URL" in bad.get_data(as_text=True)
    db.session.refresh(client)
    assert client.appearance == {} or not client.appearance.get("logo_url")

    saved = post_form(
        console,
        url,
        url,
        {
            **FORM,
            "display_name": "Acme help",
            "welcome_message": "Hello!",
            "example_prompts": "Where is my order?\nReturns",
            "logo_url": "https://cdn.example.com/logo.png",
            "accent_color": "#0F766E",
            "identity": "required",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    db.session.refresh(client)
    assert client.appearance["display_name"] == "Acme help"
    assert client.appearance["example_prompts"] == ["Where is my order?", "Returns"]
    assert client.appearance["accent_color"] == "#0f766e"
    assert client.identity_mode == "required"
    again = console.get(url).get_data(as_text=True)
    assert 'value="Acme help"' in again and "Where is my order?\nReturns" in again


def test_the_identity_secret_is_shown_once(console, account, make_client):
    client = make_client(account, "bot")
    page = f"/admin/clients/{client.id}"
    assert "identity secret not set" in console.get(page).get_data(as_text=True)
    made = post_form(console, page, f"/admin/clients/{client.id}/identity-secret")
    assert made.status_code == 303
    shown = console.get(made.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    text = shown.get_data(as_text=True)
    secret = text.split('value="cdi_', 1)[1].split('"', 1)[0]
    db.session.refresh(client)
    assert client.identity_secret and secret not in client.identity_secret
    reloaded = console.get(made.headers["Location"]).get_data(as_text=True)
    assert "Secret already shown" in reloaded and secret not in reloaded
    after = console.get(page).get_data(as_text=True)
    assert "identity secret set" in after and secret not in after
    assert "/widget.js&#34; async&gt;&lt;/script&gt;" in after


def test_the_client_page_shows_usage_by_site(app, console, account, make_client):
    from tests.conftest import host_of

    client = make_client(account, "bot", allowed_origins=["https://shop.example.com"])
    chatted = app.test_client().post(
        "/llm-client/",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers={"Host": host_of(client), "Origin": "https://shop.example.com"},
    )
    assert chatted.status_code == 200
    page = console.get(f"/admin/clients/{client.id}").get_data(as_text=True)
    table = page.split('id="origins-table"', 1)[1].split("</table>", 1)[0]
    assert '<td>https://shop.example.com</td><td class="text-end">1</td>' in table
