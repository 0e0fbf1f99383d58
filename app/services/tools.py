"""Plugins and connections of an account: create-or-update by name, read back as a spec
(secrets only as ``set``/``unset``), delete, attach to clients, and the console's "test"
button. The console, ``/api/v1``, the CLI and manifests all go through these functions.

Secrets (a database password, API headers) are sealed with :mod:`app.secret_box` into
``Connection.secrets``; they are never returned, logged or put in an audit event.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from app import secret_box
from app.config import current_settings
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.llm.base import ToolCall
from app.models import Account, Connection, LlmClient, Plugin, client_plugins
from app.netguard import NetworkRefused, allowed_networks, check_url
from app.services import audit
from app.tools.api import call_api
from app.tools.base import ConnectionConfig, Limits, ToolFailed
from app.tools.builtins import BUILTINS
from app.tools.plugins import plugin_tool
from app.tools.runner import run_call
from app.tools.specs import SECRET_STATES, TOOL_NAME, ConnectionSpec, PluginSpec
from app.tools.sql import run_query

S = TypeVar("S", bound=BaseModel)
CONNECTION_NAME_MAX = 63


def parse(model: type[S], data: Any) -> S:
    """Validate ``data`` into ``model``: one clear message naming each field path, and
    never the input itself (it may hold a secret)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in errors
        )
        details = [{"loc": e["loc"], "msg": e["msg"]} for e in errors]
        raise InvalidInput(problems, details=details) from None


def _end(commit: bool) -> None:
    """Commit, or only flush when the caller applies several objects in one transaction."""
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def _name(name: str, what: str) -> str:
    if not TOOL_NAME.fullmatch(name or ""):
        raise InvalidInput(f"a {what} name is 1-64 letters, digits, _ or - (got {name[:70]!r})")
    return name


# --- connections ------------------------------------------------------------------------


def stored_secrets(connection: Connection | None) -> dict[str, Any]:
    if connection is None or not connection.secrets:
        return {}
    loaded: dict[str, Any] = json.loads(secret_box.unseal(connection.secrets))
    return loaded


def check_connection(account: Account, name: str, spec: ConnectionSpec) -> Connection | None:
    """Refuse what an apply would refuse (the name, a change of type, a base URL the
    network guard refuses); the connection as it is, if any."""
    _name(name, "connection")
    connection = find_connection(account.id, name)
    if connection is not None and connection.type != spec.type:
        raise Conflict(f"connection {name!r} is of type {connection.type}; delete it first")
    if spec.api is not None:
        try:
            check_url(spec.api.base_url, allowed_networks())
        except NetworkRefused as refused:
            raise InvalidInput(f"spec.api.baseUrl: {refused}") from None
    return connection


def apply_connection(
    account: Account, name: str, spec: ConnectionSpec, *, commit: bool = True
) -> tuple[Connection, str]:
    """Create or update the connection ``name``; (connection, "created"|"changed"|"unchanged").
    A secret left out (``password``/``headers`` absent) keeps its stored value.
    ``commit=False``: flushed only (a manifest applies many objects in one transaction)."""
    connection = check_connection(account, name, spec)
    secrets = stored_secrets(connection)
    if spec.api is not None:
        config: dict[str, Any] = {"base_url": spec.api.base_url}
        if isinstance(spec.api.headers, list):
            secrets = {"headers": [h.model_dump() for h in spec.api.headers]}
    else:
        assert spec.sql is not None
        config = {"url": spec.sql.url}
        if spec.sql.password is not None and spec.sql.password not in SECRET_STATES:
            secrets = {"password": spec.sql.password} if spec.sql.password else {}
    sealed_before = stored_secrets(connection)
    if connection is None:
        connection = Connection(account_id=account.id, name=name, type=spec.type)
        db.session.add(connection)
        outcome = "created"
    else:
        same = connection.config == config and sealed_before == secrets
        outcome = "unchanged" if same else "changed"
    if outcome != "unchanged":
        connection.config = config
        connection.secrets = secret_box.seal(json.dumps(secrets)) if secrets else ""
        db.session.flush()
        audit.record(
            f"connection.{outcome}",
            "connection",
            connection.id,
            account_id=account.id,
            changes={"name": (None, name), "config": (None, config)},  # never the secrets
        )
    _end(commit)
    return connection, outcome


def connection_spec(connection: Connection) -> dict[str, Any]:
    """The connection as a manifest's spec; secrets shown as ``set``/``unset`` only."""
    secrets = "set" if connection.secrets else "unset"
    if connection.type == "api":
        block: dict[str, Any] = {"baseUrl": connection.config.get("base_url"), "headers": secrets}
    else:
        block = {"url": connection.config.get("url"), "password": secrets}
    return {"type": connection.type, connection.type: block}


Named = TypeVar("Named", Plugin, Connection)


def _find(model: type[Named], account_id: int, name: str) -> Named | None:
    return db.session.execute(
        select(model).where(model.account_id == account_id, model.name == name)
    ).scalar_one_or_none()


def _get(model: type[Named], account_id: int, name: str) -> Named:
    found = _find(model, account_id, name)
    if found is None:
        what = model.__name__.lower()
        raise NotFound(f"no {what} {name[:70]!r} in this account", code=f"{what}_not_found")
    return found


def _list(model: type[Named], account_id: int) -> list[Named]:
    query = select(model).where(model.account_id == account_id).order_by(model.name)
    return list(db.session.execute(query).scalars())


def find_connection(account_id: int, name: str) -> Connection | None:
    return _find(Connection, account_id, name)


def get_connection(account_id: int, name: str) -> Connection:
    return _get(Connection, account_id, name)


def list_connections(account_id: int) -> list[Connection]:
    return _list(Connection, account_id)


def delete_connection(connection: Connection, *, commit: bool = True) -> None:
    users = db.session.execute(
        select(Plugin.name).where(Plugin.connection_id == connection.id).order_by(Plugin.name)
    ).scalars()
    names = list(users)
    if names:
        raise Conflict(f"connection {connection.name!r} is used by plugins: {', '.join(names)}")
    audit.record(
        "connection.deleted", "connection", connection.id, account_id=connection.account_id
    )
    db.session.delete(connection)
    _end(commit)


def connection_config(connection: Connection) -> ConnectionConfig:
    """What an executor needs; the secrets unsealed (only here)."""
    return ConnectionConfig(
        connection.name, connection.type, dict(connection.config), stored_secrets(connection)
    )


# --- plugins ----------------------------------------------------------------------------


def check_plugin(account: Account, name: str, spec: PluginSpec) -> Connection | None:
    """Refuse what an apply would refuse (the name, a built-in's name, a connection of the
    wrong type); its connection, if it exists yet (a manifest may create it first)."""
    _name(name, "plugin")
    if name in BUILTINS:
        raise InvalidInput(f"{name!r} is a built-in function's name; choose another")
    if spec.connection is None:
        return None
    connection = find_connection(account.id, spec.connection)
    if connection is not None and connection.type != spec.type:
        raise InvalidInput(
            f"spec.{spec.type}.connection: {spec.connection!r} is of type {connection.type}"
        )
    return connection


def apply_plugin(
    account: Account, name: str, spec: PluginSpec, *, commit: bool = True
) -> tuple[Plugin, str]:
    """Create or update the plugin ``name``; (plugin, "created"|"changed"|"unchanged")."""
    connection = check_plugin(account, name, spec)
    if spec.connection is not None and connection is None:
        raise InvalidInput(
            f"spec.{spec.type}.connection: no connection {spec.connection!r} in this account"
        )
    plugin = find_plugin(account.id, name)
    values = _plugin_values(spec)
    values["connection_id"] = connection.id if connection else None
    if plugin is None:
        plugin = Plugin(account_id=account.id, name=name, **values)
        db.session.add(plugin)
        outcome = "created"
        before: dict[str, Any] = {}
    else:
        before = {k: getattr(plugin, k) for k in values}
        outcome = "unchanged" if before == values else "changed"
        for key, value in values.items():
            setattr(plugin, key, value)
    if outcome != "unchanged":
        db.session.flush()
        changes = {k: (before.get(k), v) for k, v in values.items() if before.get(k) != v}
        audit.record(
            f"plugin.{outcome}", "plugin", plugin.id, account_id=account.id, changes=changes
        )
    _end(commit)
    return plugin, outcome


def _plugin_values(spec: PluginSpec) -> dict[str, Any]:
    dumped = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    block = dumped[spec.type]
    block.pop("connection", None)
    return {
        "type": spec.type,
        "description": spec.description,
        "selector": dumped["selector"],
        "parameters": dumped["parameters"],
        "config": block,
    }


def plugin_spec(plugin: Plugin) -> dict[str, Any]:
    """The plugin as a manifest's spec (applies back unchanged)."""
    block = dict(plugin.config)
    if plugin.connection is not None:
        block = {"connection": plugin.connection.name, **block}
    return {
        "type": plugin.type,
        "description": plugin.description,
        "selector": plugin.selector,
        "parameters": plugin.parameters,
        plugin.type: block,
    }


def spec_of(plugin: Plugin) -> PluginSpec:
    return PluginSpec.model_validate(plugin_spec(plugin))


def find_plugin(account_id: int, name: str) -> Plugin | None:
    return _find(Plugin, account_id, name)


def get_plugin(account_id: int, name: str) -> Plugin:
    return _get(Plugin, account_id, name)


def list_plugins(account_id: int) -> list[Plugin]:
    return _list(Plugin, account_id)


def delete_plugin(plugin: Plugin, *, commit: bool = True) -> None:
    audit.record("plugin.deleted", "plugin", plugin.id, account_id=plugin.account_id)
    db.session.delete(plugin)
    _end(commit)


def tool_limits() -> Limits:
    settings = current_settings()
    return Limits(
        timeout=settings.TOOLS_TIMEOUT_SECONDS,
        max_result_chars=settings.TOOLS_MAX_RESULT_CHARS,
        sql_max_rows=settings.TOOLS_SQL_MAX_ROWS,
        api_max_response_bytes=settings.TOOLS_API_MAX_RESPONSE_BYTES,
        allowed_networks=tuple(allowed_networks(settings)),
    )


def test_plugin(plugin: Plugin, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run the plugin once with sample arguments, as a model's call would (validated,
    guarded, capped): {"outcome", "result", "duration_ms"}."""
    connection = connection_config(plugin.connection) if plugin.connection else None
    tool = plugin_tool(plugin.name, spec_of(plugin), connection)
    call = ToolCall("test", plugin.name, json.dumps(arguments))
    db.session.commit()  # no transaction held while the tool runs
    result, record = run_call(tool, call, tool_limits(), 0)
    return {"outcome": record.outcome, "result": result.content, "duration_ms": record.duration_ms}


# --- clients ----------------------------------------------------------------------------


def set_client_tools(
    client: LlmClient,
    plugins: list[str] | None = None,
    functions: list[str] | None = None,
    *,
    commit: bool = True,
) -> None:
    """Attach plugins (by name, of the client's account) and enable built-in functions;
    None leaves that list as it is. Both are checked before either changes."""
    changes: dict[str, tuple[list[str], list[str]]] = {}
    if functions is not None:
        unknown = sorted(set(functions) - set(BUILTINS))
        if unknown:
            raise InvalidInput(
                f"unknown built-in functions: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(BUILTINS))})"
            )
        changes["functions"] = (list(client.functions or []), sorted(set(functions)))
    found: list[Plugin] = []
    if plugins is not None:
        names = sorted({_name(name, "plugin") for name in plugins})
        found = [p for p in (find_plugin(client.account_id, n) for n in names) if p is not None]
        missing = sorted(set(names) - {p.name for p in found})
        if missing:
            raise InvalidInput(f"no plugin {', '.join(map(repr, missing))} in this account")
        changes["plugins"] = ([p.name for p in client.plugins], names)
    if "functions" in changes:
        client.functions = changes["functions"][1]
    if "plugins" in changes:
        client.plugins = found
    changed = {k: v for k, v in changes.items() if v[0] != v[1]}
    if changed:
        audit.record(
            "client.updated", "client", client.id, account_id=client.account_id, changes=changed
        )
    _end(commit)


def test_connection(connection: Connection) -> dict[str, Any]:
    """Reach the connection once (``select 1``, or a GET of the base URL) through the
    network guard: {"outcome", "result"}; the secrets are used, never shown."""
    config = connection_config(connection)
    db.session.commit()  # no transaction held while it connects
    limits = tool_limits()
    try:
        if config.type == "sql":
            value: Any = run_query(config, "select 1 as ok", {}, limits)
        else:
            value = call_api(config, "GET", "/", {}, limits)["status"]
    except ToolFailed as failure:
        return {"outcome": failure.outcome, "result": failure.message}
    return {"outcome": "ok", "result": json.dumps(value, default=str)}


def refuse_taken(model: type[Named], account_id: int, name: str) -> None:
    """A 409 when the account already has a plugin (or connection) of that name."""
    if _find(model, account_id, name) is not None:
        what = model.__name__.lower()
        raise Conflict(f"a {what} named {name[:70]!r} already exists in this account")


def plugin_client_ids(plugin: Plugin) -> list[int]:
    return sorted(
        db.session.execute(
            select(client_plugins.c.client_id).where(client_plugins.c.plugin_id == plugin.id)
        ).scalars()
    )
