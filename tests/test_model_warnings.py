"""Clients on a deprecated model keep working: every chat answer carries a warning naming
the replacement, and the operator's listings mark them."""

from __future__ import annotations

import json

import pytest

from app.llm.catalog import Model
from tests.catalog_support import invoke, sync, with_echo_models
from tests.conftest import host_of

WARNING = "model echo-0 is deprecated; use echo-1"
BEFORE = with_echo_models(Model("echo-1", 1000, is_default=True), Model("echo-0", 1000))
AFTER = with_echo_models(
    Model("echo-1", 1000, is_default=True),
    Model("echo-0", 1000, deprecated=True, replacement="echo-1"),
)


@pytest.fixture
def on_deprecated(app, account, make_client):
    """A client created on echo-0, which a later release deprecates."""
    sync(BEFORE)
    client = make_client(account, "legacy", model="echo-0", allowed_origins=["https://shop.test"])
    sync(AFTER)
    return client


def chat(http, client, path="/llm-client/", **body):
    return http.post(
        path,
        data=json.dumps({"messages": [{"role": "user", "content": "hi"}], **body}),
        content_type="application/json",
        headers={"Host": host_of(client), "Origin": "https://shop.test"},
    )


def test_a_deprecated_models_client_answers_with_a_warning(http, on_deprecated):
    response = chat(http, on_deprecated)
    assert response.status_code == 200
    assert response.json["reply"] == "echo: hi"
    assert response.json["model"] == "echo-0"
    assert response.headers["X-Chatdock-Warning"] == WARNING
    assert response.headers["Warning"] == f'299 - "{WARNING}"'
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "X-Chatdock-Warning" in exposed and "Warning" in exposed


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/llm-client/", {"stream": True}),
        ("/v1/chat/completions", {"model": "x"}),
        ("/v1/chat/completions", {"model": "x", "stream": True}),
    ],
)
def test_every_kind_of_answer_carries_the_warning(http, on_deprecated, path, body):
    response = chat(http, on_deprecated, path, **body)
    assert response.status_code == 200
    assert response.headers["X-Chatdock-Warning"] == WARNING


def test_a_current_models_client_has_no_warning(http, account, make_client):
    response = chat(http, make_client(account, "fresh", allowed_origins=["https://shop.test"]))
    assert response.status_code == 200
    assert "X-Chatdock-Warning" not in response.headers
    assert "Warning" not in response.headers


def test_listings_mark_the_deprecated_model(app, account, on_deprecated):
    number = account.account_number
    shown = invoke(app, "clients", "show", "legacy", "--account", number).output
    assert "model:            echo-0 [deprecated: use echo-1]" in shown
    assert "echo-0 [deprecated: use echo-1]" in invoke(app, "clients", "list").output
    assert "echo/echo-0 [deprecated: use echo-1]: 1 client" in invoke(app, "models", "usage").output
