"""What a Plugin or Connection manifest kind calls (the manifests' engine adapts these):
a read applies back with no change, secrets only in status, the fields a change touches."""

from __future__ import annotations

from app.services import tool_manifests as manifests
from app.services import tools
from app.tools.specs import ConnectionSpec, PluginSpec

HEADERS = [{"name": "Authorization", "value": "Bearer m-Secret"}]


def test_read_apply_round_trip_and_differences(customer):
    account = customer.account
    connection_spec = ConnectionSpec.model_validate(
        {"type": "api", "api": {"baseUrl": "https://8.8.8.8", "headers": HEADERS}}
    )
    assert manifests.connection_differences(account, "shop-api", connection_spec) is None
    connection, outcome = tools.apply_connection(account, "shop-api", connection_spec)
    assert outcome == "created"
    spec, status = manifests.connection_manifest(connection)
    assert spec == {"type": "api", "api": {"baseUrl": "https://8.8.8.8"}}
    assert status == {"headers": "set"}
    read_back = ConnectionSpec.model_validate(spec)
    assert manifests.connection_differences(account, "shop-api", read_back) == []
    assert tools.apply_connection(account, "shop-api", read_back)[1] == "unchanged"
    new_key = ConnectionSpec.model_validate(
        {
            "type": "api",
            "api": {"baseUrl": "https://8.8.4.4", "headers": [HEADERS[0] | {"value": "x"}]},
        }
    )
    assert manifests.connection_differences(account, "shop-api", new_key) == [
        "api.baseUrl",
        "api.headers",
    ]

    plugin_spec = PluginSpec.model_validate(
        {"type": "api", "description": "Orders", "api": {"connection": "shop-api", "path": "/o"}}
    )
    assert manifests.plugin_differences(account, "orders", plugin_spec) is None
    plugin, _ = tools.apply_plugin(account, "orders", plugin_spec)
    tools.set_client_tools(customer.client, plugins=["orders"])
    spec, status = manifests.plugin_manifest(plugin)
    assert status == {"clients": ["shop"]}
    assert manifests.plugin_differences(account, "orders", PluginSpec.model_validate(spec)) == []
    assert tools.apply_plugin(account, "orders", PluginSpec.model_validate(spec))[1] == "unchanged"
    changed = PluginSpec.model_validate({**spec, "description": "Where an order is"})
    assert manifests.plugin_differences(account, "orders", changed) == ["description"]
