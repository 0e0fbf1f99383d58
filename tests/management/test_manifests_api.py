"""/api/v1/apply, /manifests and /schemas as a member, an admin and another tenant
see them: members touch only their accounts (403, nothing changed)."""

from __future__ import annotations

import json

import yaml
from sqlalchemy import select

from app.extensions import db
from app.manifests import schemas
from app.manifests.kinds import KINDS
from app.models import AuditEvent, LlmClient, ProviderConnection


def manifest(tenant, kind="Client", name="shop", **spec) -> dict:
    return {
        "apiVersion": "chatdock/v1",
        "kind": kind,
        "metadata": {"name": name, "account": tenant.account.account_number},
        "spec": spec,
    }


def apply_yaml(caller, *documents, dry_run=False):
    body = yaml.safe_dump_all(documents)
    query = "?dry_run=true" if dry_run else ""
    return caller("POST", f"/apply{query}", data=body, content_type="application/yaml")


def test_a_member_applies_into_their_account_with_one_audit_event_per_object(api, tenant_a):
    member = api(tenant_a.member_token)
    documents = (
        manifest(tenant_a, "ProviderConnection", "own", type="openai", apiKey="sk-own-1"),
        manifest(tenant_a, model="gpt-4.1", providerConnection="own"),
    )
    dry = apply_yaml(member, *documents, dry_run=True)
    assert dry.status_code == 200, dry.get_json()
    assert [r["line"] for r in dry.get_json()["results"]] == [
        "ProviderConnection/own: created",
        "Client/shop: created",
    ]
    assert db.session.scalars(select(ProviderConnection)).all() == []
    done = apply_yaml(member, *documents)
    assert [r["line"] for r in done.get_json()["results"]] == [
        "ProviderConnection/own: created",
        "Client/shop: created",
    ]
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type.in_(["client", "provider_connection"]),
            AuditEvent.source == "api",
        )
    ).all()
    assert sorted((e.object_type, e.action, e.actor_type) for e in events) == [
        ("client", "create", "token"),
        ("provider_connection", "create", "token"),
    ]
    assert all("sk-own-1" not in json.dumps(e.changes) for e in events)
    shown = member(
        "GET", f"/manifests/providerconnection/own?account={tenant_a.account.account_number}"
    )
    assert shown.get_json()["status"] == {"apiKey": "set"}
    assert "sk-own-1" not in shown.get_data(as_text=True)
    again = member("POST", "/apply", json=[shown.get_json()])
    assert again.get_json()["results"][0]["outcome"] == "unchanged"


def test_another_tenant_is_refused_and_nothing_changes(api, tenant_a, tenant_b):
    outsider = api(tenant_b.owner_token)
    number = tenant_a.account.account_number
    refused = apply_yaml(outsider, manifest(tenant_a, name="bot", systemPrompt="pwned"))
    assert refused.status_code == 403
    assert (
        f"doc 1 (Client/bot): metadata.account: you may not manage account '{number}'"
        in (refused.get_json()["error"]["message"])
    )
    db.session.rollback()
    assert db.session.get(LlmClient, tenant_a.client.id).system_prompt == ""
    assert outsider("GET", f"/manifests/client?account={number}").status_code == 403
    assert outsider("GET", f"/manifests/client/bot?account={number}").status_code == 403
    assert outsider("DELETE", f"/manifests/client/bot?account={number}").status_code == 403
    db.session.rollback()
    assert db.session.get(LlmClient, tenant_a.client.id) is not None
    missing = outsider("GET", "/manifests/client?account=0000-0000-0001")
    assert missing.status_code == 403  # the same answer whether the account exists


def test_referencing_another_accounts_connection_is_refused(api, tenant_a, tenant_b):
    admin_made = apply_yaml(
        api(tenant_b.owner_token),
        manifest(tenant_b, "ProviderConnection", "theirs", type="openai", apiKey="sk-b"),
    )
    assert admin_made.status_code == 200
    refused = apply_yaml(
        api(tenant_a.owner_token), manifest(tenant_a, name="bot", providerConnection="theirs")
    )
    assert refused.status_code == 400
    assert (
        "spec.providerConnection: no ProviderConnection 'theirs'"
        in refused.get_json()["error"]["message"]
    )


def test_an_admin_reads_any_account_and_the_answers_apply_back(api, admin_token, tenant_a):
    admin = api(admin_token)
    listed = admin("GET", f"/manifests/clients?account={tenant_a.account.account_number}")
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [i["metadata"]["name"] for i in items] == ["bot"]
    back = admin("POST", "/apply", json=items)
    assert [r["line"] for r in back.get_json()["results"]] == ["Client/bot: unchanged"]


def test_bodies_too_large_or_malformed_are_refused(api, tenant_a):
    member = api(tenant_a.member_token)
    big = member("POST", "/apply", data=b"#" * 10_000_000, content_type="application/yaml")
    assert big.status_code == 413
    latin = member(
        "POST", "/apply", data="x: caf\u00e9".encode("latin-1"), content_type="application/yaml"
    )
    assert latin.status_code == 400 and "not UTF-8" in latin.get_json()["error"]["message"]
    bomb = member(
        "POST", "/apply", data=b"a: &a [x]\nb: [*a, *a]\n", content_type="application/yaml"
    )
    assert bomb.status_code == 400 and "aliases" in bomb.get_json()["error"]["message"]
    deep = "[" * 100_000 + "]" * 100_000
    for content_type in ("application/yaml", "application/json"):
        nested = member("POST", "/apply", data=deep, content_type=content_type)
        assert nested.status_code == 400, content_type
        assert "nested too deeply" in nested.get_json()["error"]["message"]
    broken = member("POST", "/apply", data="{", content_type="application/json")
    assert broken.status_code == 400 and "invalid JSON" in broken.get_json()["error"]["message"]


def test_schemas_are_served_and_kept_in_docs(api, tenant_a):
    member = api(tenant_a.member_token)
    for kind in KINDS.values():
        served = member("GET", f"/schemas/{kind.name}")
        assert served.status_code == 200
        assert served.get_json() == json.loads(schemas.schema_file(kind).read_text()), (
            f"docs/schemas is stale: run {schemas.REGENERATE}"
        )
        assert schemas.schema_file(kind).read_text() == schemas.render(kind)
    unknown = member("GET", "/schemas/Clients2")
    assert unknown.status_code == 400 and "unknown kind" in unknown.get_json()["error"]["message"]


def test_limits_are_the_owners_and_a_member_applying_them_changes_nothing(api, tenant_a):
    limited = manifest(tenant_a, name="bot", requestsPerMinute=30, systemPrompt="new")
    refused = apply_yaml(api(tenant_a.member_token), limited)
    assert refused.status_code == 403
    assert (
        "only an owner of this account may set its rate limits"
        in (refused.get_json()["error"]["message"])
    )
    db.session.rollback()
    client = db.session.get(LlmClient, tenant_a.client.id)
    assert (client.requests_per_minute, client.system_prompt) == (None, "")
    done = apply_yaml(api(tenant_a.owner_token), limited)
    assert done.get_json()["results"][0]["line"] == (
        "Client/bot: changed (systemPrompt, requestsPerMinute)"
    )
    db.session.rollback()
    assert db.session.get(LlmClient, tenant_a.client.id).requests_per_minute == 30
    # what a member reads applies back as a no-op (the limits unchanged: not refused)
    member = api(tenant_a.member_token)
    number = tenant_a.account.account_number
    shown = member("GET", f"/manifests/client/bot?account={number}").get_json()
    assert shown["spec"]["requestsPerMinute"] == 30
    again = member("POST", "/apply", json=shown)
    assert again.get_json()["results"][0]["outcome"] == "unchanged"
