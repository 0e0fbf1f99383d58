"""flask users ..."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import service_errors
from app.services import users as service

users = AppGroup("users", help="Admin users of the console.")


@users.command("create-admin")
@click.argument("email")
@click.password_option(help="Prompted for (hidden, twice) when not given.")
@service_errors
def create_admin(email: str, password: str) -> None:
    """Create an admin user (or reset the password of an existing one)."""
    user, created = service.create_admin(email, password)
    click.echo(f"{'created' if created else 'updated'} admin {user.email}")
