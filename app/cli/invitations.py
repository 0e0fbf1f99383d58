"""flask invitations ...: see and revoke the links that let people into an account."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, fmt_time, service_errors
from app.services import accounts, members

invitations = AppGroup("invitations", help="Invitations to accounts (their links are never shown).")


@invitations.command("list")
@click.option("--account", "account_number", required=True)
@service_errors
def list_(account_number: str) -> None:
    """An account's invitations, newest first, with their status."""
    rows = members.list_invitations(None, accounts.get_account(account_number))
    if not rows:
        click.echo(f"no invitations for account {account_number}")
        return
    echo_table(
        ["ID", "EMAIL", "ROLE", "STATUS", "INVITED BY", "EXPIRES"],
        [
            [
                inv.id,
                inv.email,
                inv.role.value,
                members.invitation_status(inv),
                inv.invited_by,
                fmt_time(inv.expires_at),
            ]
            for inv in rows
        ],
        right=frozenset({0}),
    )


@invitations.command("revoke")
@click.argument("invitation_id", type=int)
@click.option("--account", "account_number", required=True)
@service_errors
def revoke(invitation_id: int, account_number: str) -> None:
    """Revoke a pending invitation: its link stops working at once."""
    account = accounts.get_account(account_number)
    invitation, revoked = members.revoke_invitation(
        None, members.get_invitation(account, invitation_id)
    )
    if revoked:
        click.echo(f"revoked invitation {invitation.id} of {invitation.email}")
    else:
        click.echo(
            f"invitation {invitation.id} of {invitation.email} was already "
            f"{members.invitation_status(invitation)}"
        )
