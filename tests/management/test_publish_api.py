"""Publishing through /api/v1: the appearance and identity mode on a client (bad values
refused, nothing changed), the identity secret shown once and only to the client's
account, usage by origin."""

from __future__ import annotations

from app.extensions import db
from tests.conftest import host_of


def test_appearance_and_identity_through_the_api(api, tenant_a):
    owner = api(tenant_a.owner_token)
    path = f"/clients/{tenant_a.client.id}"
    bad = owner("PATCH", path, json={"appearance": {"logo_url": "http://x.example/l.png"}})
    assert bad.status_code == 400 and "https://" in bad.json["error"]["message"]
    bad = owner("PATCH", path, json={"identity": "sometimes"})
    assert bad.status_code == 400
    assert owner("GET", path).json["appearance"]["logo_url"] == ""

    changed = owner(
        "PATCH",
        path,
        json={
            "appearance": {"display_name": "Alpha help", "accent_color": "#112233"},
            "identity": "optional",
        },
    )
    assert changed.status_code == 200, changed.json
    body = changed.json
    assert body["appearance"]["display_name"] == "Alpha help"
    assert body["identity"] == "optional" and body["identity_secret"] == "unset"


def test_the_identity_secret_is_shown_once_to_its_account_only(api, tenant_a, tenant_b):
    path = f"/clients/{tenant_a.client.id}/identity-secret"
    assert api(tenant_b.owner_token)("POST", path).status_code == 404
    made = api(tenant_a.member_token)("POST", path)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = made.json["identity_secret"]
    assert secret.startswith("cdi_")
    shown = api(tenant_a.owner_token)("GET", f"/clients/{tenant_a.client.id}")
    assert shown.json["identity_secret"] == "set" and secret not in shown.get_data(as_text=True)


def test_usage_by_origin(api, app, tenant_a, tenant_b):
    from app.services import clients

    client = tenant_a.client
    clients.mark_deployed_without_infrastructure(client)
    clients.patch_client(client, {"allowed_origins": ["https://shop.example.com"]})
    db.session.commit()
    for origin in ("https://shop.example.com", None):
        headers = {"Host": host_of(client)} | ({"Origin": origin} if origin else {})
        response = app.test_client().post(
            "/llm-client/",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        assert response.status_code == 200, response.json
    path = f"/clients/{client.id}/usage-by-origin"
    assert api(tenant_b.owner_token)("GET", path).status_code == 404
    rows = api(tenant_a.owner_token)("GET", path).json["origins"]
    assert {row["origin"]: row["requests"] for row in rows} == {
        "(none)": 1,
        "https://shop.example.com": 1,
    }
