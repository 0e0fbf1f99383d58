"""flask invitations ...: invite people into an account, see, resend and revoke the
links. A link is printed only when it is made (create, resend): only its hash is kept."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, fmt_time, service_errors
from app.config import current_settings
from app.services import accounts, members

invitations = AppGroup(
    "invitations", help="Invitations to accounts (a link is shown once, when it is made)."
)


BASE_URL = click.option(
    "--base-url",
    help="Where people open the console: https://<first PLATFORM_HOSTS> by default "
    "(http://localhost:5000 without one).",
)


def _accept_url(base_url: str | None) -> str:
    """The console's invitation link on the platform's host."""
    if not base_url:
        hosts = current_settings().PLATFORM_HOSTS
        base_url = f"https://{hosts[0]}" if hosts else "http://localhost:5000"
    return f"{base_url.rstrip('/')}/admin/invitations/"


def _issued(issued: members.IssuedInvitation) -> None:
    invitation = issued.invitation
    click.echo(issued.link)
    click.echo(
        f"invitation {invitation.id}: {invitation.email} as {invitation.role.value}, "
        f"expires {fmt_time(invitation.expires_at)} (the link works once; shown once)",
        err=True,
    )


@invitations.command("create")
@click.argument("email")
@click.option("--account", "account_number", required=True, help="Account number.")
@click.option("--role", type=click.Choice(["owner", "member"]), default="member", show_default=True)
@BASE_URL
@service_errors
def create(email: str, account_number: str, role: str, base_url: str | None) -> None:
    """Invite EMAIL: print the link once (stdout; emailed too when email is set up)."""
    account = accounts.get_account(account_number)
    role_value = members.parse_role(role)
    _issued(members.invite(None, account, email, role_value, _accept_url(base_url)))


@invitations.command("resend")
@click.argument("invitation_id", type=int)
@click.option("--account", "account_number", required=True, help="Account number.")
@BASE_URL
@service_errors
def resend(invitation_id: int, account_number: str, base_url: str | None) -> None:
    """A new link for a pending or expired invitation (the previous one stops working)."""
    invitation = members.get_invitation(accounts.get_account(account_number), invitation_id)
    _issued(members.resend_invitation(None, invitation, _accept_url(base_url)))


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
