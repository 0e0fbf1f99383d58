"""What the manifests' ``Plugin`` and ``Connection`` kinds call: a read as (spec, status)
with secrets only in status (set/unset), so a read applies back with no change, and the
fields an apply would change. Creating, updating and deleting are
:mod:`app.services.tools`' (``commit=False``: the engine commits a file at once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Account, Connection, LlmClient, Plugin, client_plugins
from app.services.tools import (
    connection_spec,
    find_connection,
    find_plugin,
    plugin_spec,
    spec_of,
    stored_secrets,
)
from app.tools.specs import SECRET_STATES, ConnectionSpec, PluginSpec


def connection_manifest(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, status) of a manifest read: the secrets only in status, as set/unset, so
    the spec applies back with no change."""
    spec = connection_spec(connection)
    block = dict(spec[connection.type])
    secret = "headers" if connection.type == "api" else "password"
    status = {secret: block.pop(secret)}
    return {"type": connection.type, connection.type: block}, status


def connection_differences(account: Account, name: str, spec: ConnectionSpec) -> list[str] | None:
    """The spec fields an apply would change (camelCase paths); None: it would create."""
    connection = find_connection(account.id, name)
    if connection is None:
        return None
    current = connection_spec(connection)
    wanted = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    fields = ["type"] if current["type"] != wanted["type"] else []
    block, now = wanted.get(spec.type, {}), current.get(spec.type, {})
    for key, value in block.items():
        if key in ("headers", "password"):
            stored = stored_secrets(connection).get(key)
            if value not in SECRET_STATES and value != (
                stored or ("" if key == "password" else [])
            ):
                fields.append(f"{spec.type}.{key}")
        elif now.get(key) != value:
            fields.append(f"{spec.type}.{key}")
    return fields


def plugin_manifest(plugin: Plugin) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, status) of a manifest read; status: the clients it is attached to."""
    clients = db.session.execute(
        select(LlmClient.name)
        .join(client_plugins, client_plugins.c.client_id == LlmClient.id)
        .where(client_plugins.c.plugin_id == plugin.id)
        .order_by(LlmClient.name)
    ).scalars()
    return plugin_spec(plugin), {"clients": list(clients)}


def plugin_differences(account: Account, name: str, spec: PluginSpec) -> list[str] | None:
    """The spec fields an apply would change; None: it would create."""
    plugin = find_plugin(account.id, name)
    if plugin is None:
        return None
    wanted = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    current = spec_of(plugin).model_dump(by_alias=True, exclude_none=True, mode="json")
    keys = sorted(wanted.keys() | current.keys())
    return [key for key in keys if wanted.get(key) != current.get(key)]
