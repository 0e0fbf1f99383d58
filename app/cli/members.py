"""flask members ...: an account's members (listed, role changed, removed); the same
rules as the console and /api/v1 (an account keeps an owner), acting as the operator."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, fmt_time, service_errors
from app.services import accounts, members

members_cli = AppGroup("members", help="Members of accounts: roles, removal.")
ROLES = click.Choice(["owner", "member"])


@members_cli.command("list")
@click.option("--account", "account_number", required=True, help="Account number.")
@service_errors
def list_(account_number: str) -> None:
    """The account's members: role, joined, last seen."""
    rows = members.list_members(accounts.get_account(account_number))
    if not rows:
        click.echo(
            f"no members of account {account_number}: "
            f"flask invitations create EMAIL --account {account_number}"
        )
        return
    echo_table(
        ["EMAIL", "ROLE", "JOINED", "LAST SEEN"],
        [
            [m.user.email, m.role.value, fmt_time(m.created_at), fmt_time(m.user.last_seen_at)]
            for m in rows
        ],
    )


@members_cli.command("set-role")
@click.argument("email")
@click.option("--account", "account_number", required=True, help="Account number.")
@click.option("--role", type=ROLES, required=True)
@service_errors
def set_role(email: str, account_number: str, role: str) -> None:
    """Make member EMAIL an owner or a member (the last owner stays an owner)."""
    member = members.member_by_email(accounts.get_account(account_number), email)
    members.change_role(None, member, members.parse_role(role))
    click.echo(f"{member.user.email} is {role} of account {account_number}")


@members_cli.command("remove")
@click.argument("email")
@click.option("--account", "account_number", required=True, help="Account number.")
@service_errors
def remove(email: str, account_number: str) -> None:
    """Remove member EMAIL (their pending invitations are revoked; never the last owner)."""
    member = members.member_by_email(accounts.get_account(account_number), email)
    address = member.user.email
    members.remove_member(None, member)
    click.echo(f"removed {address} from account {account_number}")
