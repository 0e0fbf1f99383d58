"""The development commands: ``flask demo`` (a ready-to-call demo client for a fresh
install) and ``flask dev-dns`` (play the customer's registrar against the development DNS
server). Registered as Flask CLI plugins by ``devtools.cli``."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import operator_logging
from app.cli.common import service_errors
from app.config import current_settings
from app.domains.names import normalize_domain
from app.errors import Conflict
from app.extensions import db
from app.hosts import default_host
from app.models import Account, LlmClient
from app.services import accounts, clients
from app.services import domains as domain_service
from app.services.accounts import get_account
from devtools.dev_dns import DelegationFile

DEMO_ACCOUNT_NAME = "Demo account"
DEMO_CLIENT = "demo"

demo = AppGroup("demo", help="The development demo client.", callback=operator_logging)
dev_dns = AppGroup(
    "dev-dns",
    help="Development DNS: set or remove a domain's delegation.",
    callback=operator_logging,
)


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
    click.echo(f"  its chat page, in a browser: http://{host}:{port}/")
    number = client.account.account_number
    click.echo("operator commands for this account (README: Try it):")
    click.echo(f"  export FLASK_APP=wsgi.py ACCOUNT={number}")
    click.echo("  .venv/bin/flask clients create bot --account $ACCOUNT")
    click.echo("  .venv/bin/flask clients deploy bot --account $ACCOUNT --wait")


# --- flask dev-dns ----------------------------------------------------------------------


def _delegations() -> DelegationFile:
    path = current_settings().DEV_DNS_FILE
    if not path:
        raise Conflict("DEV_DNS_FILE is not set: the development DNS runs under scripts/run")
    return DelegationFile(path)


@dev_dns.command("delegate")
@click.argument("domain")
@click.option("--ns", "name_servers", multiple=True, help="Name server (default: its zone's).")
@click.option("--account", "account_number", help="Whose zone (when several claim it).")
@service_errors
def delegate(domain: str, name_servers: tuple[str, ...], account_number: str | None) -> None:
    """Answer NS queries for DOMAIN with its zone's name servers (or --ns ones)."""
    name = normalize_domain(domain)
    account = get_account(account_number) if account_number else None
    servers = list(name_servers) or domain_service.get_domain(name, account).name_servers
    if not servers:
        raise Conflict(f"{name} has no zone yet: pass --ns or wait for its run")
    _delegations().set(name, servers)
    click.echo(f"{name} NS {', '.join(servers)}")


@dev_dns.command("undelegate")
@click.argument("domain")
@service_errors
def undelegate(domain: str) -> None:
    """Remove DOMAIN's delegation (its NS queries then answer NXDOMAIN)."""
    name = normalize_domain(domain)
    _delegations().set(name, [])
    click.echo(f"{name} has no NS records now")
