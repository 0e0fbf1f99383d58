"""flask plugins ...: an account's plugins and connections (secrets shown as set/unset),
a plugin's test run, and the tools of a client. Plugins and connections are created
and changed through /api/v1, the console or manifests."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, service_errors
from app.errors import InvalidInput
from app.services import accounts, clients
from app.services import tools as service

plugins_cli = AppGroup("plugins", help="Plugins (tools) and connections of accounts.")


@plugins_cli.command("list")
@click.option("--account", "account_number", required=True)
@service_errors
def list_(account_number: str) -> None:
    """List an account's plugins and connections (never a secret)."""
    account = accounts.get_account(account_number)
    rows = [[p.name, p.type, p.description] for p in service.list_plugins(account.id)]
    echo_table(["PLUGIN", "TYPE", "DESCRIPTION"], rows)
    click.echo()
    connections = [
        [c.name, c.type, json.dumps(service.connection_spec(c)[c.type])]
        for c in service.list_connections(account.id)
    ]
    echo_table(["CONNECTION", "TYPE", "SPEC"], connections)


@plugins_cli.command("test")
@click.argument("name")
@click.option("--account", "account_number", required=True)
@click.option("--arguments", default="{}", help="Sample arguments, a JSON object.")
@service_errors
def test(name: str, account_number: str, arguments: str) -> None:
    """Run a plugin once as a model's call would; exit 1 unless it answered."""
    try:
        values = json.loads(arguments)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise InvalidInput("--arguments must be a JSON object, e.g. '{\"order_id\": 7}'")
    plugin = service.get_plugin(accounts.get_account(account_number).id, name)
    result = service.test_plugin(plugin, values)
    click.echo(result["result"])
    click.echo(f"{result['outcome']} in {result['duration_ms']} ms", err=True)
    if result["outcome"] != "ok":
        raise SystemExit(1)


@plugins_cli.command("attach")
@click.option("--account", "account_number", required=True)
@click.option("--client", "client_name", required=True)
@click.option("--plugin", "plugin_names", multiple=True, help="A plugin (repeat); all attached.")
@click.option("--function", "functions", multiple=True, help="A built-in function (repeat).")
@click.option("--keep-functions", is_flag=True, help="Leave the built-in functions as they are.")
@service_errors
def attach(
    account_number: str,
    client_name: str,
    plugin_names: tuple[str, ...],
    functions: tuple[str, ...],
    keep_functions: bool,
) -> None:
    """Set the client's plugins and built-in functions (exactly those given)."""
    client = clients.get_client(accounts.get_account(account_number), client_name)
    service.set_client_tools(
        client, list(plugin_names), None if keep_functions else list(functions)
    )
    names = [p.name for p in client.plugins]
    click.echo(
        f"{client.name}: plugins {', '.join(names) or '-'}; "
        f"functions {', '.join(client.functions or []) or '-'}"
    )
