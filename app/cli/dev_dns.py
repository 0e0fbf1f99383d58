"""flask dev-dns ...: play the customer's registrar against the development DNS server."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import service_errors
from app.config import current_settings
from app.domains.dev_dns import DelegationFile
from app.domains.names import normalize_domain
from app.errors import Conflict
from app.services import domains as domain_service
from app.services.accounts import get_account

dev_dns = AppGroup("dev-dns", help="Development DNS: set or remove a domain's delegation.")


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
