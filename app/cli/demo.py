"""flask demo: a ready-to-call demo client for a fresh development install."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.hosts import default_host
from app.models import Account, LlmClient
from app.services import accounts, clients

DEMO_ACCOUNT_NAME = "Demo account"
DEMO_CLIENT = "demo"

demo = AppGroup("demo", help="The development demo client.")


def ensure_demo_client() -> LlmClient:
    """The demo account's deployed echo client, created on first use (idempotent)."""
    account = db.session.execute(
        select(Account).where(Account.name == DEMO_ACCOUNT_NAME).order_by(Account.id)
    ).scalars().first() or accounts.create_account(DEMO_ACCOUNT_NAME)
    existing = db.session.execute(
        select(LlmClient).where(LlmClient.account_id == account.id, LlmClient.name == DEMO_CLIENT)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    spec = clients.parse_spec(
        name=DEMO_CLIENT, provider="echo", system_prompt="You are the chatdock demo bot."
    )
    return clients.create_client(account, spec, deployed=True)


@demo.command("seed")
@click.option("--port", default=5000, show_default=True, help="Port the server listens on.")
def seed(port: int) -> None:
    """Create the demo client if needed and print curl commands that call it."""
    client = ensure_demo_client()
    host = default_host(
        client.name, client.account.account_number, current_settings().CUSTOMER_API_DOMAIN
    )
    body = json.dumps({"messages": [{"role": "user", "content": "Hello, chatdock!"}]})
    click.echo(f"demo client {client.name} in account {client.account.account_number}")
    click.echo("try:")
    click.echo(
        f"  curl -s http://{host}:{port}/llm-client/ -H 'content-type: application/json' "
        f"-d '{body}'"
    )
    click.echo(
        f"  curl -s http://localhost:{port}/api/v0/llm-clients/{client.id}/{client.name}/ "
        f"-H 'content-type: application/json' -d '{body}'"
    )
    number = client.account.account_number
    click.echo("operator commands for this account (README: Try it):")
    click.echo(f"  export FLASK_APP=wsgi.py ACCOUNT={number}")
    click.echo("  .venv/bin/flask clients create bot --account $ACCOUNT")
    click.echo("  .venv/bin/flask clients deploy bot --account $ACCOUNT --wait")
