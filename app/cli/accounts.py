"""flask accounts ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import fmt_time, service_errors
from app.services import accounts as service

accounts = AppGroup("accounts", help="Customer accounts.")


@accounts.command("create")
@click.option("--name", required=True, help="Display name of the customer.")
@service_errors
def create(name: str) -> None:
    """Create an account and print its number."""
    account = service.create_account(name)
    click.echo(account.account_number)


@accounts.command("list")
@service_errors
def list_() -> None:
    """List accounts."""
    rows = service.list_accounts()
    if not rows:
        click.echo("no accounts yet: flask accounts create --name NAME")
        return
    click.echo(f"{'ACCOUNT':<16}{'CLIENTS':>8}  {'CREATED':<22}NAME")
    for account in rows:
        click.echo(
            f"{account.account_number:<16}{len(account.clients):>8}  "
            f"{fmt_time(account.created_at):<22}{account.name}"
        )
