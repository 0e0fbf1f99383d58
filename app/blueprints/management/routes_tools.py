"""The management API's plugins, connections and the tools of a client."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from app.blueprints.management.common import answer, caller, operation, parse_body
from app.blueprints.management.views import owned
from app.models import Connection, LlmClient, Plugin
from app.schemas import tools as t
from app.services import access
from app.services import tools as tool_service


def connection_out(connection: Connection) -> t.ConnectionOut:
    return t.ConnectionOut(
        id=connection.id,
        account_id=connection.account_id,
        name=connection.name,
        type=connection.type,
        spec=tool_service.connection_spec(connection),
        created_at=connection.created_at,
    )


def plugin_out(plugin: Plugin) -> t.PluginOut:
    return t.PluginOut(
        id=plugin.id,
        account_id=plugin.account_id,
        name=plugin.name,
        type=plugin.type,
        spec=tool_service.plugin_spec(plugin),
        client_ids=tool_service.plugin_client_ids(plugin),
        created_at=plugin.created_at,
    )


# --- connections ------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/connections",
    summary="The account's connections (secrets as set/unset)",
    response=t.ConnectionList,
)
def connections_list(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    items = [connection_out(c) for c in tool_service.list_connections(account.id)]
    return answer(t.ConnectionList(items=items))


@operation(
    "POST",
    "/accounts/<int:account_id>/connections",
    summary="Create a connection",
    response=t.ConnectionOut,
    status=201,
    body=t.ConnectionIn,
    errors=(409,),
)
def connections_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    body = parse_body(t.ConnectionIn)
    tool_service.refuse_taken(Connection, account.id, body.name)
    connection, _ = tool_service.apply_connection(account, body.name, body.spec)
    return answer(connection_out(connection), 201)


@operation(
    "GET", "/connections/<int:connection_id>", summary="One connection", response=t.ConnectionOut
)
def connection_show(connection_id: int) -> ResponseReturnValue:
    return answer(connection_out(owned(Connection, connection_id, "connection")))


@operation(
    "PUT",
    "/connections/<int:connection_id>",
    summary="Change a connection (secrets left out are kept)",
    response=t.ConnectionOut,
    body=t.ConnectionUpdate,
    errors=(409,),
)
def connection_update(connection_id: int) -> ResponseReturnValue:
    connection = owned(Connection, connection_id, "connection")
    body = parse_body(t.ConnectionUpdate)
    account = access.account_for(caller(), connection.account_id)
    connection, _ = tool_service.apply_connection(account, connection.name, body.spec)
    return answer(connection_out(connection))


@operation(
    "DELETE",
    "/connections/<int:connection_id>",
    summary="Delete a connection no plugin uses",
    response=None,
    status=204,
    errors=(409,),
)
def connection_delete(connection_id: int) -> ResponseReturnValue:
    tool_service.delete_connection(owned(Connection, connection_id, "connection"))
    return "", 204


@operation(
    "POST",
    "/connections/<int:connection_id>/test",
    summary="Reach the connection once (through the network guard)",
    response=t.ToolTestOut,
)
def connection_test(connection_id: int) -> ResponseReturnValue:
    connection = owned(Connection, connection_id, "connection")
    return answer(t.ToolTestOut(**tool_service.test_connection(connection)))


# --- plugins ----------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/plugins",
    summary="The account's plugins",
    response=t.PluginList,
)
def plugins_list(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    return answer(
        t.PluginList(items=[plugin_out(p) for p in tool_service.list_plugins(account.id)])
    )


@operation(
    "POST",
    "/accounts/<int:account_id>/plugins",
    summary="Create a plugin",
    response=t.PluginOut,
    status=201,
    body=t.PluginIn,
    errors=(409,),
)
def plugins_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    body = parse_body(t.PluginIn)
    tool_service.refuse_taken(Plugin, account.id, body.name)
    plugin, _ = tool_service.apply_plugin(account, body.name, body.spec)
    return answer(plugin_out(plugin), 201)


@operation("GET", "/plugins/<int:plugin_id>", summary="One plugin", response=t.PluginOut)
def plugin_show(plugin_id: int) -> ResponseReturnValue:
    return answer(plugin_out(owned(Plugin, plugin_id, "plugin")))


@operation(
    "PUT",
    "/plugins/<int:plugin_id>",
    summary="Change a plugin",
    response=t.PluginOut,
    body=t.PluginUpdate,
)
def plugin_update(plugin_id: int) -> ResponseReturnValue:
    plugin = owned(Plugin, plugin_id, "plugin")
    body = parse_body(t.PluginUpdate)
    account = access.account_for(caller(), plugin.account_id)
    plugin, _ = tool_service.apply_plugin(account, plugin.name, body.spec)
    return answer(plugin_out(plugin))


@operation(
    "DELETE", "/plugins/<int:plugin_id>", summary="Delete a plugin", response=None, status=204
)
def plugin_delete(plugin_id: int) -> ResponseReturnValue:
    tool_service.delete_plugin(owned(Plugin, plugin_id, "plugin"))
    return "", 204


@operation(
    "POST",
    "/plugins/<int:plugin_id>/test",
    summary="Run the plugin once with sample arguments, as a model's call would",
    response=t.ToolTestOut,
    body=t.ToolTestIn,
)
def plugin_test(plugin_id: int) -> ResponseReturnValue:
    plugin = owned(Plugin, plugin_id, "plugin")
    body = parse_body(t.ToolTestIn)
    return answer(t.ToolTestOut(**tool_service.test_plugin(plugin, body.arguments)))


@operation(
    "PUT",
    "/clients/<int:client_id>/tools",
    summary="Attach plugins to a client and enable built-in functions",
    response=t.ClientToolsOut,
    body=t.ClientToolsIn,
)
def client_tools(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    body = parse_body(t.ClientToolsIn)
    tool_service.set_client_tools(client, body.plugins, body.functions)
    return answer(
        t.ClientToolsOut(
            client_id=client.id,
            plugins=[p.name for p in client.plugins],
            functions=list(client.functions or []),
        )
    )
