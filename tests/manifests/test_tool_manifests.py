"""Plugin and Connection manifests (issue "Tools"), through flask apply/get/delete: the
issue's example applies, reads back as a no-op with its secrets left out, attaches the
plugin to the client, and bad references are named with their document and field."""

from __future__ import annotations

import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.models import Connection, LlmClient, Plugin

SECRET = "Bearer manifest-Secret-7"


def docs(account, plugin_connection="shop-api") -> str:
    def doc(kind, name, spec):
        metadata = {"name": name, "account": account.account_number}
        return {"apiVersion": "chatdock/v1", "kind": kind, "metadata": metadata, "spec": spec}

    return yaml.safe_dump_all(
        [
            doc(
                "Plugin",
                "order-status",
                {
                    "type": "api",
                    "description": "Where an order is",
                    "selector": {"searchTerms": ["order", "parcel"]},
                    "parameters": [
                        {
                            "name": "order_id",
                            "type": "integer",
                            "description": "The order number",
                            "required": True,
                        }
                    ],
                    "api": {
                        "connection": plugin_connection,
                        "method": "GET",
                        "path": "/orders/{order_id}",
                    },
                },
            ),
            doc(
                "Connection",
                "shop-api",
                {
                    "type": "api",
                    "api": {
                        "baseUrl": "https://8.8.8.8",
                        "headers": [{"name": "Authorization", "value": SECRET}],
                    },
                },
            ),
            doc("Client", "shop", {"plugins": ["order-status"]}),
        ]
    )


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_issues_example_applies_reads_back_and_deletes(cli, shop, write):
    path = write(docs(shop))
    assert cli("apply", "-f", path, "--dry-run").output == (
        "Plugin/order-status: created\nConnection/shop-api: created\nClient/shop: created\n"
    )
    assert (count(Plugin), count(Connection), count(LlmClient)) == (0, 0, 0)
    applied = cli("apply", "-f", path)
    assert applied.exit_code == 0, applied.output
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert [p.name for p in client.plugins] == ["order-status"]
    assert cli("apply", "-f", path).output == (
        "Plugin/order-status: unchanged\nConnection/shop-api: unchanged\nClient/shop: unchanged\n"
    )
    for kind in ("Plugin", "Connection"):
        got = cli("get", kind, "--account", shop.account_number, "-o", "yaml")
        assert got.exit_code == 0, got.output
        assert "manifest-Secret" not in got.output
        again = cli("apply", "-f", write(got.output, f"{kind}.yaml"))
        assert again.exit_code == 0 and again.output.endswith(": unchanged\n"), again.output
    shown = cli("get", "connection", "shop-api", "--account", shop.account_number).output
    assert "headers: set" in shown
    changed = docs(shop).replace("Where an order is", "Where a parcel is")
    assert cli("apply", "-f", write(changed)).output.startswith(
        "Plugin/order-status: changed (description)\n"
    )
    tools_only = "---".join(docs(shop).split("---")[:2])  # deleting a client is a run
    deleted = cli("delete", "-f", write(tools_only, "tools.yaml"))
    assert deleted.exit_code == 0, deleted.output
    assert deleted.output == "Plugin/order-status: deleted\nConnection/shop-api: deleted\n"
    assert (count(Plugin), count(Connection)) == (0, 0)
    assert db.session.execute(select(LlmClient)).scalar_one().plugins == []


def test_a_missing_connection_is_named_and_nothing_changes(cli, shop, write):
    result = cli("apply", "-f", write(docs(shop, plugin_connection="shop-apii")))
    assert result.exit_code == 2
    assert (
        "doc 1 (Plugin/order-status): spec.api.connection: no Connection 'shop-apii'"
        in result.output
    ), result.output
    assert "did you mean 'shop-api'?" in result.output
    assert (count(Plugin), count(Connection), count(LlmClient)) == (0, 0, 0)
