"""A published client over HTTP, as a browser or an attacker calls it: /config shows
only what the widget needs, the chat page's policy, widget tokens bound to the client
and the embedding origin, identified users (verified hash, refusals recorded, sessions
of their own), usage by origin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domains.publish import user_hash
from app.extensions import db
from app.models import AuditEvent, ChatSession
from app.services import api_keys, publish, usage
from tests.conftest import host_of

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.com"
PROMPT = "You are the secret-keeping assistant of Acme."


@pytest.fixture
def shop(account, make_client):
    return make_client(
        account,
        "shopbot",
        system_prompt=PROMPT,
        require_api_key=True,
        allowed_origins=[SHOP],
        appearance={
            "displayName": "Acme help",
            "welcomeMessage": "Hello! Ask me anything.",
            "examplePrompts": ["Where is my order?"],
            "accentColor": "#0f766e",
        },
    )


def get(http, client, path, origin=None, **headers):
    if origin:
        headers["Origin"] = origin
    return http.get(path, headers={"Host": host_of(client), **headers})


def post(http, client, path, origin=None, json=None, **headers):
    if origin:
        headers["Origin"] = origin
    return http.post(path, json=json, headers={"Host": host_of(client), **headers})


def token_for(http, client, origin=SHOP, **identity):
    response = post(http, client, "/widget/token", origin, json=identity)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def chat(http, client, text, token=None, origin=None, session_key=None):
    body = {"messages": [{"role": "user", "content": text}]}
    if session_key:
        body["session_key"] = session_key
    headers = {"X-Chatdock-Widget": token} if token else {}
    return post(http, client, "/llm-client/", origin, json=body, **headers)


def test_config_shows_the_presentation_and_none_of_the_secrets(http, account, shop):
    key = api_keys.create_api_key(account, label="server").plaintext
    response = get(http, shop, "/config", SHOP)
    assert response.status_code == 200
    body = response.json
    assert body["appearance"]["display_name"] == "Acme help"
    assert body["appearance"]["example_prompts"] == ["Where is my order?"]
    assert body["requires_token"] is True
    text = response.get_data(as_text=True)
    for secret in (PROMPT, "secret-keeping", key, account.account_number, "echo-1", "model"):
        assert secret not in text
    assert set(body) == {
        "client",
        "appearance",
        "requires_token",
        "identity",
        "limits",
        "token_seconds",
    }
    assert get(http, shop, "/config", EVIL).status_code == 403


def test_the_chat_page_may_be_framed_only_by_the_allowed_origins(http, account, shop, make_client):
    page = get(http, shop, "/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors {SHOP};" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "X-Frame-Options" not in page.headers
    html = page.get_data(as_text=True)
    assert '<script src="/chat.js" defer></script>' in html
    assert html.count("<script") == 1  # no inline script
    assert "Acme help" in html and "Hello! Ask me anything." in html
    assert PROMPT not in html

    closed = make_client(
        account, "closed", appearance={"logo_url": "https://cdn.example:8443/l.png"}
    )
    policy = get(http, closed, "/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "img-src 'self' https://cdn.example:8443;" in policy
    for asset, kind in (("/chat.js", "javascript"), ("/chat.css", "css"), ("/widget.js", "java")):
        response = get(http, shop, asset)
        assert response.status_code == 200 and kind in response.content_type
    # Not on the platform's own hosts.
    assert http.get("/", headers={"Host": "localhost"}).status_code == 404


def test_a_widget_token_stands_in_for_the_api_key_only_from_its_origin(
    http, account, shop, make_client
):
    assert chat(http, shop, "hi", origin=SHOP).status_code == 401  # no key, no token
    assert post(http, shop, "/widget/token", EVIL, json={}).status_code == 403
    assert post(http, shop, "/widget/token", json={}).status_code == 403  # no Origin
    # The client's own host (the page opened directly) gets no token either.
    own = f"https://{host_of(shop)}"
    assert post(http, shop, "/widget/token", own, json={}).json["error"]["code"] == (
        "origin_not_allowed"
    )

    token = token_for(http, shop)["token"]
    answered = chat(http, shop, "hello", token, origin=SHOP)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert answered.json["reply"] == "echo: hello"
    # From the chat page in its iframe (the client's own host) too.
    assert chat(http, shop, "again", token, origin=own).status_code == 200
    # Anywhere else, or with no Origin (a server replaying it), refused.
    stolen = chat(http, shop, "hi", token, origin=EVIL)
    assert stolen.status_code == 403 and stolen.json["error"]["code"] == "origin_not_allowed"
    assert chat(http, shop, "hi", token).status_code == 403
    # Tampered, or another client's.
    assert chat(http, shop, "hi", token[:-2] + "xx", origin=SHOP).status_code == 401
    other = make_client(account, "other", allowed_origins=[SHOP], require_api_key=True)
    other_token = token_for(http, other)["token"]
    assert chat(http, shop, "hi", other_token, origin=SHOP).status_code == 401
    # Once the owner removes the origin, its tokens stop working.
    from app.services import clients

    clients.patch_client(shop, {"allowed_origins": ["https://new.example.com"]})
    assert chat(http, shop, "hi", token, origin=SHOP).status_code == 403

    by_origin = {row.group: row.requests for row in usage.report(client_id=shop.id, by="origin")}
    assert by_origin == {SHOP: 2}


def test_identified_users_verified_kept_and_refusals_recorded(http, account, make_client):
    client = make_client(account, "members", allowed_origins=[SHOP], identity="required")
    # Required: no identity, no token.
    refused = post(http, client, "/widget/token", SHOP, json={})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "identity_required"
    # No secret yet: identities cannot be checked.
    no_secret = token_for_status(http, client, "ann", "0" * 64)
    assert no_secret.json["error"]["code"] == "identity_unavailable"
    secret = publish.rotate_identity_secret(client)
    assert client.identity_secret and secret not in client.identity_secret  # stored sealed

    forged = token_for_status(http, client, "ann", user_hash(secret, "bob"))
    assert forged.status_code == 403 and forged.json["error"]["code"] == "identity_invalid"
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identity_refused")
    ).all()
    assert [e.changes["user_id"][1] for e in events] == ["ann"]

    ann = token_for(http, client, user_id="ann", user_hash=user_hash(secret, "ann"))
    assert ann["user_id"] == "ann"
    first = chat(http, client, "remember me", ann["token"], origin=SHOP)
    assert first.status_code == 200
    key = first.json["session_key"]
    owner = select(ChatSession.end_user).where(ChatSession.session_key == key)
    assert db.session.scalar(owner) == "ann"

    # Another device: a new token for ann finds the same conversation.
    again = token_for(http, client, user_id="ann", user_hash=user_hash(secret, "ann"))
    history = post(
        http, client, "/widget/history", SHOP, json={}, **{"X-Chatdock-Widget": again["token"]}
    )
    assert history.status_code == 200
    assert history.json["session_key"] == key
    assert [m["content"] for m in history.json["messages"]] == ["remember me", "echo: remember me"]
    # Someone else cannot continue or read ann's session by its key.
    bob = token_for(http, client, user_id="bob", user_hash=user_hash(secret, "bob"))
    assert chat(http, client, "hi", bob["token"], SHOP, session_key=key).status_code == 404
    theirs = post(
        http,
        client,
        "/widget/history",
        SHOP,
        json={"session_key": key},
        **{"X-Chatdock-Widget": bob["token"]},
    )
    assert theirs.json["messages"] == []
    # Without a token, an identity-required client answers no browser.
    assert chat(http, client, "hi", origin=SHOP).json["error"]["code"] == "identity_required"
    assert usage.report(client_id=client.id, by="user")[0].group == "ann"

    # Rotating: the old secret's hashes stop verifying.
    publish.rotate_identity_secret(client)
    assert token_for_status(http, client, "ann", user_hash(secret, "ann")).status_code == 403


def token_for_status(http, client, user_id, hashed):
    return post(http, client, "/widget/token", SHOP, json={"user_id": user_id, "user_hash": hashed})


def test_anonymous_history_by_the_kept_session_key(http, account, make_client):
    client = make_client(account, "open", allowed_origins=[SHOP])
    own = f"https://{host_of(client)}"
    first = chat(http, client, "first", origin=own)
    key = first.json["session_key"]
    history = post(http, client, "/widget/history", own, json={"session_key": key})
    assert [m["role"] for m in history.json["messages"]] == ["user", "assistant"]
    unknown = post(http, client, "/widget/history", own, json={"session_key": "x" * 32})
    assert unknown.json == {"session_key": None, "messages": []}
    assert post(http, client, "/widget/history", EVIL, json={}).status_code == 403


@pytest.mark.parametrize(
    ("appearance", "problem"),
    [
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "https://"),
        ({"logo_url": "javascript:alert(1)"}, "https://"),
        ({"logo_url": "https://a.example;script-src *;/l.png"}, "https://"),
        ({"logo_url": "https://user@a.example/l.png"}, "https://"),
        ({"accentColor": "red"}, "#rrggbb"),
        ({"examplePrompts": ["x"] * 7}, "example_prompts"),
        ({"font": "Comic Sans"}, "font"),
    ],
)
def test_bad_appearance_is_refused(account, appearance, problem):
    from app.errors import InvalidInput
    from app.services import clients

    with pytest.raises(InvalidInput) as refused:
        clients.parse_spec(name="bot", appearance=appearance)
    assert problem in refused.value.message


def test_a_widget_token_expires(http, shop):
    import time

    import time_machine

    token = token_for(http, shop)
    assert token["expires_in"] == 600
    with time_machine.travel(time.time() + 601, tick=False):
        expired = chat(http, shop, "hi", token["token"], origin=SHOP)
    assert expired.status_code == 401
    assert expired.json["error"]["code"] == "widget_token_expired"
