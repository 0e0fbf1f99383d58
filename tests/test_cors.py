"""CORS comes from the client's own hosts and allowed_origins, never anyone else's."""

from __future__ import annotations

import pytest

from tests.conftest import host_of

BODY = {"messages": [{"role": "user", "content": "hi"}]}


def preflight(http, client, origin):
    return http.options(
        "/llm-client/",
        headers={
            "Host": host_of(client),
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )


def test_preflight_for_allowed_origin(http, account, make_client):
    client = make_client(account, "web", allowed_origins=["https://shop.example.com"])
    response = preflight(http, client, "https://shop.example.com")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-api-key" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]


def test_own_host_is_an_allowed_origin(http, demo):
    response = preflight(http, demo, f"https://{host_of(demo)}")
    assert response.status_code == 204


def test_foreign_origin_refused(http, account, make_client):
    client = make_client(account, "web", allowed_origins=["https://shop.example.com"])
    other = make_client(account, "other", allowed_origins=["https://evil.example.com"])
    response = preflight(http, client, "https://evil.example.com")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    # Another client's origin opens only that client.
    assert preflight(http, other, "https://evil.example.com").status_code == 204
    # A real request from the foreign origin is refused before any provider call.
    response = http.post(
        "/llm-client/",
        json=BODY,
        headers={"Host": host_of(client), "Origin": "https://evil.example.com"},
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "origin_not_allowed"


def test_actual_request_gets_cors_headers(http, account, make_client):
    client = make_client(account, "web", allowed_origins=["https://shop.example.com:8443"])
    response = http.post(
        "/llm-client/",
        json=BODY,
        headers={"Host": host_of(client), "Origin": "https://SHOP.example.com:8443"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://SHOP.example.com:8443"


def test_scheme_and_port_matter_for_allowed_origins(http, account, make_client):
    client = make_client(account, "web", allowed_origins=["https://shop.example.com"])
    assert preflight(http, client, "http://shop.example.com").status_code == 403
    assert preflight(http, client, "https://shop.example.com:444").status_code == 403


def test_preflight_on_api_v0_path(http, account, make_client):
    client = make_client(account, "web", allowed_origins=["https://shop.example.com"])
    response = http.options(
        f"/api/v0/llm-clients/{client.id}/web/",
        headers={"Host": "localhost", "Origin": "https://shop.example.com"},
    )
    assert response.status_code == 204


def test_invalid_allowed_origin_rejected_on_create(account, make_client):
    import pytest

    from app.errors import InvalidInput

    with pytest.raises(InvalidInput, match="invalid origin"):
        make_client(account, "web", allowed_origins=["https://shop.example.com/path"])


@pytest.mark.parametrize(
    "origin",
    [
        'https://shop".example.com',
        "https://<script>.example.com",
        "https://shop.example.com>",
        "https://user@shop.example.com",
        "https://shop example.com",
        "https://-shop.example.com",
    ],
)
def test_origins_with_characters_no_host_has_are_refused(account, make_client, origin):
    """Issue 17, Low: `"`, `<` and `>` in an allowed origin's host were accepted."""
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput, match="invalid origin"):
        make_client(account, "web", allowed_origins=[origin])


@pytest.mark.parametrize(
    ("origin", "stored"),
    [
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("https://Shop-2.Example.com", "https://shop-2.example.com"),
    ],
)
def test_real_origins_are_kept(account, make_client, origin, stored):
    assert make_client(account, "web", allowed_origins=[origin]).allowed_origins == [stored]
