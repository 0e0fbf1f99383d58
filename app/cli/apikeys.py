"""flask apikeys ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, fmt_time, service_errors
from app.services import accounts, clients
from app.services import api_keys as service

apikeys = AppGroup("apikeys", help="API keys of accounts (shown once, stored hashed).")


@apikeys.command("create")
@click.option("--account", "account_number", required=True)
@click.option("--client", "client_names", multiple=True, help="Limit the key to this client.")
@click.option("--expires-in-days", type=int, help="Days until the key expires (1-3650).")
@click.option("--label", default="", help="A note to recognise the key by.")
@service_errors
def create(
    account_number: str, client_names: tuple[str, ...], expires_in_days: int | None, label: str
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    account = accounts.get_account(account_number)
    scoped = [clients.get_client(account, name) for name in client_names]
    issued = service.create_api_key(account, scoped, expires_in_days, label)
    key = issued.api_key
    click.echo(issued.plaintext)
    click.echo(
        f"key id {key.key_id}; scope: {key.scope_label}; "
        f"expires: {fmt_time(key.expires_at) if key.expires_at else 'never'}",
        err=True,
    )
    click.echo("store it now: it is shown only once", err=True)


@apikeys.command("list")
@click.option("--account", "account_number", required=True)
@service_errors
def list_(account_number: str) -> None:
    """List an account's keys (never the secrets)."""
    rows = service.list_api_keys(accounts.get_account(account_number))
    if not rows:
        click.echo("no API keys: flask apikeys create --account NUMBER")
        return
    headers = ["KEY ID", "STATUS", "EXPIRES", "LAST USED", "SCOPE", "LABEL"]
    table = [
        [
            key.key_id,
            service.key_status(key),
            fmt_time(key.expires_at),
            fmt_time(key.last_used_at),
            key.scope_label,
            key.label,
        ]
        for key in rows
    ]
    echo_table(headers, table)


@apikeys.command("revoke")
@click.argument("key_id")
@service_errors
def revoke(key_id: str) -> None:
    """Revoke a key at once."""
    key, revoked = service.revoke_api_key(key_id)
    if revoked:
        click.echo(f"revoked {key.key_id} (account {key.account.account_number})")
    else:
        click.echo(
            f"{key.key_id} (account {key.account.account_number}) was already revoked "
            f"at {fmt_time(key.revoked_at)}"
        )
