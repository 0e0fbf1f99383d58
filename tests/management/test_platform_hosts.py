"""The platform's own endpoints answer on platform hosts only (issue 21, item 9): on a
client host or a tenant's custom domain, ``/api/v1``, the console, the OpenAPI document,
``/readyz`` and ``/metrics`` are 404 (a tenant's token once created a key in its account
through another tenant's domain); ``/healthz`` answers everywhere, and the probes answer
on the pod's address."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiKey, CustomDomain, DomainStatus
from tests.conftest import CUSTOMER_DOMAIN, host_of
from tests.management.conftest import Tenant

PLATFORM_PATHS = ("/readyz", "/metrics", "/api/openapi.json", "/admin/login", "/api/v1/accounts")


def _keys() -> int:
    count = db.session.execute(select(func.count(ApiKey.id))).scalar_one()
    db.session.rollback()
    return count


def test_platform_endpoints_are_not_found_on_client_hosts_and_tenant_domains(
    app: Flask, tenant_a: Tenant, tenant_b: Tenant, make_client
):
    shop = make_client(tenant_b.account, "shop")
    shop.custom_domain = tenant_b.domain
    pending = CustomDomain(
        account=tenant_b.account, domain="pending.example.net", status=DomainStatus.PENDING
    )
    db.session.add(pending)
    db.session.commit()
    mine = make_client(tenant_a.account, "mine")
    http = app.test_client()
    auth = {"Authorization": f"Bearer {tenant_a.owner_token}"}
    create_key = f"/api/v1/accounts/{tenant_a.account.id}/api-keys"
    chat = {"messages": [{"role": "user", "content": "ping"}]}
    served = http.post("/llm-client/", json=chat, headers={"Host": "shop.bravo.example"})
    assert served.status_code == 200  # the tenant's domain serves its client
    before = _keys()
    tenant_hosts = (
        "shop.bravo.example",  # another tenant's custom domain, served
        "SHOP.bravo.example:443",
        "bravo.example",
        "www.pending.example.net",  # a tenant's domain not served yet
        host_of(shop),
        host_of(mine),  # the caller's own client host is no platform host either
        f"nobody.{tenant_a.account.account_number}.{CUSTOMER_DOMAIN}",
    )
    for host in tenant_hosts:
        headers = {**auth, "Host": host}
        created = http.post(create_key, json={"label": "via tenant"}, headers=headers)
        assert created.status_code == 404, (host, created.get_json())
        for path in PLATFORM_PATHS:
            assert http.get(path, headers=headers).status_code == 404, (host, path)
        assert http.get("/healthz", headers={"Host": host}).status_code == 200, host
    assert _keys() == before
    platform = {**auth, "Host": "localhost:5000"}
    assert http.post(create_key, json={"label": "here"}, headers=platform).status_code == 201
    for path in PLATFORM_PATHS:
        assert http.get(path, headers=platform).status_code == 200, path
    pod = {"Host": "10.1.2.3:8080"}
    for path in ("/healthz", "/readyz", "/metrics"):
        assert http.get(path, headers=pod).status_code == 200, path
    assert http.get("/api/v1/accounts", headers={**auth, **pod}).status_code == 400
