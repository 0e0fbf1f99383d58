"""flask tokens ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import echo_table, fmt_time, service_errors
from app.errors import NotFound
from app.models import AdminUser
from app.services import tokens as service
from app.services.users import find_user

tokens = AppGroup("tokens", help="Personal access tokens of the management API.")


def _user(email: str) -> AdminUser:
    user = find_user(email)
    if user is None:
        raise NotFound(f"no user {email}")
    return user


@tokens.command("create")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
@click.option(
    "--expires-in-days",
    type=int,
    default=service.DEFAULT_DAYS,
    show_default=True,
    help=f"1 to {service.MAX_DAYS}.",
)
@service_errors
def create(email: str, label: str, expires_in_days: int) -> None:
    """Print a new token of user EMAIL once (stdout; details on stderr)."""
    issued = service.create_token(_user(email), label, expires_in_days)
    click.echo(issued.plaintext)
    click.echo(
        f"token {issued.token.token_id} for {email}, expires {fmt_time(issued.token.expires_at)}"
        " (shown once: store it now)",
        err=True,
    )


@tokens.command("list")
@click.argument("email")
@service_errors
def list_(email: str) -> None:
    """The user's tokens (never their secrets)."""
    rows = service.list_tokens(_user(email))
    if not rows:
        click.echo(f"no tokens: flask tokens create {email}")
        return
    echo_table(
        ["TOKEN ID", "STATUS", "EXPIRES", "LAST USED", "LABEL"],
        [
            [
                token.token_id,
                service.token_status(token),
                fmt_time(token.expires_at),
                fmt_time(token.last_used_at),
                token.label,
            ]
            for token in rows
        ],
    )


@tokens.command("revoke")
@click.argument("email")
@click.argument("token_id")
@service_errors
def revoke(email: str, token_id: str) -> None:
    """Revoke the user's token TOKEN_ID at once."""
    token = service.revoke_token(_user(email), token_id)
    click.echo(f"revoked token {token.token_id}")
