"""schemathesis over the whole management API, as a platform admin and as a member:
never a 5xx, and every answer conforms to the generated OpenAPI document."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from app.extensions import db
from app.openapi.management import PREFIX
from app.schemas.operations import OPERATIONS
from devtools.services import redis_server
from tests.conftest import _empty_tables
from tests.management.conftest import Tenant
from tests.test_openapi import CONFORMANCE_CHECKS, SCHEMA_URL, _run

EXAMPLES = 6


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture
def app(make_app, redis_url: str):
    """The app with a real Redis, so deploys, domain checks and approvals are queued."""
    application = make_app(REDIS_URL=redis_url)
    with application.app_context():
        _empty_tables()
        yield application
        db.session.remove()


def _path(rule: str) -> str:
    return PREFIX + re.sub(r"<(?:int:)?([a-z_]+)>", r"{\1}", rule)


@pytest.mark.parametrize("who", ["admin", "member"])
def test_management_api_conforms(app: Flask, tenant_a: Tenant, admin_token: str, who: str):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, app, config=SchemathesisConfig())
    token = admin_token if who == "admin" else tenant_a.member_token
    ids = {
        "account_id": tenant_a.account.id,
        "client_id": tenant_a.client.id,
        "member_id": tenant_a.member_member.id,
        "key_id": tenant_a.key.id,
        "domain_id": tenant_a.domain.id,
        "run_id": tenant_a.run.id,
    }
    statuses: dict[str, set[int]] = {}
    # Reading before writing, deleting last: each operation meets live objects.
    order = sorted(OPERATIONS, key=lambda o: {"get": 0, "delete": 2}.get(o.method, 1))
    for op in order:
        path = _path(op.rule)
        wanted = {name: ids[name] for name in ids if "{" + name + "}" in path}
        responses = _run(
            schema,
            path,
            op.method.upper(),
            mode=GenerationMode.POSITIVE,
            examples=EXAMPLES,
            path_parameters=wanted or None,
            headers={"Authorization": f"Bearer {token}"},
            checks=CONFORMANCE_CHECKS,
        )
        statuses[f"{op.method} {path}"] = {r.status_code for r in responses}
    assert 200 in statuses[f"get {PREFIX}/accounts/{{account_id}}/clients"]
    assert 200 in statuses[f"get {PREFIX}/runs/{{run_id}}"]
    if who == "member":
        assert statuses[f"post {PREFIX}/runs/{{run_id}}/approve"] == {403}
        assert statuses[f"post {PREFIX}/accounts"] <= {400, 403}
