"""flask users ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import service_errors
from app.services import users as service
from app.services.accounts import get_account
from app.services.members import add_member, parse_role

users = AppGroup("users", help="Users of the console: admins and account members.")


@users.command("create-admin")
@click.argument("email")
@click.password_option(help="Prompted for (hidden, twice) when not given.")
@service_errors
def create_admin(email: str, password: str) -> None:
    """Create an admin user (or reset the password of an existing one)."""
    user, created = service.create_admin(email, password)
    click.echo(f"{'created' if created else 'updated'} admin {user.email}")


@users.command("create-member")
@click.argument("email")
@click.option("--account", "account_number", required=True, help="Account number.")
@click.option("--role", type=click.Choice(["owner", "member"]), default="member", show_default=True)
@click.password_option(help="Prompted for (hidden, twice) when not given.")
@service_errors
def create_member(email: str, account_number: str, role: str, password: str) -> None:
    """Create a customer user (not an admin) as a member of one account (an existing
    user gets the new password too; nothing changes when they already are a member)."""
    account = get_account(account_number)
    user, _ = service.set_user(email, password, platform_admin=False, commit=False)
    add_member(account, user, parse_role(role))
    click.echo(f"{user.email} is {role} of account {account.account_number}")
