"""flask accounts ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import fmt_time, service_errors
from app.services import accounts as service
from app.services.notifications import list_notifications

accounts = AppGroup("accounts", help="Customer accounts.")


@accounts.command("create")
@click.option("--name", required=True, help="Display name of the customer.")
@click.option("--email", default=None, help="Contact email for notifications (optional).")
@service_errors
def create(name: str, email: str | None) -> None:
    """Create an account and print its number."""
    account = service.create_account(name, contact_email=email)
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


@accounts.command("notifications")
@click.argument("account_number")
@service_errors
def notifications(account_number: str) -> None:
    """List the notices sent to an account, newest first."""
    account = service.get_account(account_number)
    rows = list_notifications(account)
    if not rows:
        click.echo(f"no notifications for account {account.account_number}")
        return
    for notice in rows:
        state = "delivered" if notice.delivered_at else (notice.delivery_error or "stored")
        click.echo(f"{fmt_time(notice.created_at)}  {notice.kind}  {notice.subject}  [{state}]")
        for line in notice.body.splitlines():
            click.echo(f"    {line}")
