"""The management API's client bodies take ClientSpec's fields and limits (the service
model the CLI and console use): one source of truth, so they cannot drift apart."""

from __future__ import annotations

from typing import Any

from app.schemas import management as s
from app.services.clients import ClientSpec
from tests.management.conftest import Tenant


def _properties(model: Any) -> dict[str, Any]:
    return {
        name: {k: v for k, v in field.items() if k != "title"}
        for name, field in model.model_json_schema()["properties"].items()
    }


def _value(field: dict[str, Any]) -> dict[str, Any]:
    """What a field takes besides null, with its limits and description (no default)."""
    branches = [b for b in field.get("anyOf", [field]) if b.get("type") != "null"]
    assert len(branches) == 1, field
    described = {"description": field["description"]} if "description" in field else {}
    return described | {k: v for k, v in branches[0].items() if k != "default"}


def test_client_bodies_have_exactly_the_service_models_fields_and_limits() -> None:
    spec = _properties(ClientSpec)
    assert _properties(s.ClientIn) == spec
    patch = _properties(s.ClientPatch)
    assert set(patch) == set(spec) - {"name"}
    assert {name: field["default"] for name, field in patch.items()} == dict.fromkeys(patch)
    assert {name: _value(field) for name, field in patch.items()} == {
        name: _value(spec[name]) for name in patch
    }


def test_a_limit_of_the_service_is_the_apis_400(api, tenant_a: Tenant) -> None:
    path = f"/accounts/{tenant_a.account.id}/clients"
    response = api(tenant_a.owner_token)("POST", path, json={"name": "hot", "temperature": 2.5})
    assert response.status_code == 400
    assert "temperature" in response.get_json()["error"]["message"]
    response = api(tenant_a.owner_token)(
        "PATCH", f"/clients/{tenant_a.client.id}", json={"max_tokens": 0}
    )
    assert response.status_code == 400
    assert "max_tokens" in response.get_json()["error"]["message"]
