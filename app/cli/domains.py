"""flask domains ...: custom domains of accounts."""

from __future__ import annotations

import time
from datetime import timedelta

import click
from flask.cli import AppGroup

from app.cli.common import fmt_time, service_errors
from app.cli.runs import describe, finish
from app.config import current_settings
from app.domains.serving import FOREVER, serving_until
from app.models import CustomDomain, DomainStatus, InfraRun, RunStatus
from app.models.common import utcnow
from app.services import accounts, domain_checks
from app.services import clients as client_service
from app.services import domains as service

domains = AppGroup("domains", help="Custom domains: hosted zones, delegation checks, hosts.")
CHECK_POLL_SECONDS = 0.5


def print_delegation(domain: CustomDomain) -> None:
    """The NS records the customer sets at their registrar (or parent zone)."""
    if not domain.name_servers:
        click.echo(f"{domain.domain}: no zone yet ({domain.shown_status})")
        return
    click.echo(f"Set these NS records for {domain.domain} at its registrar (or parent zone):")
    for ns in domain.name_servers:
        click.echo(f"  {domain.domain}.  NS  {ns}.")
    click.echo(
        "Replace any other NS records of the domain. Delegation is checked automatically "
        f"(status now: {domain.shown_status}); check at once with: "
        f"flask domains verify {domain.domain} --wait"
    )


def print_domain_run_outcome(run: InfraRun) -> None:
    """After a domain's run: the delegation to set, once its zone exists."""
    domain = service.domain_of_run(run) if run.status == RunStatus.APPLIED else None
    if domain is not None:
        print_delegation(domain)


@domains.command("add")
@click.argument("domain")
@click.option("--account", "account_number", required=True, help="Account number.")
@click.option("--auto-approve", is_flag=True, help="Apply the zone's plan without review.")
@click.option("--wait", is_flag=True, help="Block until the run ends; non-zero if it errored.")
@service_errors
def add(domain: str, account_number: str, auto_approve: bool, wait: bool) -> None:
    """Claim DOMAIN for an account and create its hosted zone (plan, review, apply)."""
    account = accounts.get_account(account_number)
    found, run = service.add_domain(account, domain, auto_approve=auto_approve)
    click.echo(f"custom domain {found.domain} of account {account.account_number}")
    run = finish(run, wait, current_settings().JOB_TIMEOUT_SECONDS)
    if wait:
        print_domain_run_outcome(run)
    else:
        click.echo(f"once applied, the NS records to set: flask domains show {found.domain}")


@domains.command("verify")
@click.argument("domain")
@click.option("--account", "account_number", help="The account's claim (when several claim it).")
@click.option("--wait", is_flag=True, help="Wait for the result; non-zero if not verified.")
@service_errors
def verify(domain: str, wait: bool, account_number: str | None) -> None:
    """Check DOMAIN's delegation now (in a worker)."""
    found = _claim(domain, account_number)
    before = found.last_checked_at
    domain_checks.request_check(found)
    click.echo(f"check of {found.domain} queued")
    if not wait:
        return
    deadline = time.monotonic() + current_settings().DNS_TIMEOUT_SECONDS * 4 + 60
    while domain_checks.last_checked(found) == before:
        if time.monotonic() > deadline:
            raise click.ClickException("no result yet: is a worker running? (flask worker)")
        time.sleep(CHECK_POLL_SECONDS)
    click.echo(f"{found.domain}: {found.shown_status}: {found.last_check_result}")
    if found.status != DomainStatus.VERIFIED:
        raise click.exceptions.Exit(1)


@domains.command("list")
@click.option("--account", "account_number", help="Only this account's domains.")
@service_errors
def list_(account_number: str | None) -> None:
    """List custom domains with their status and last check."""
    account = accounts.get_account(account_number) if account_number else None
    rows = service.list_domains(account)
    if not rows:
        click.echo("no custom domains yet: flask domains add DOMAIN --account NUMBER")
        return
    click.echo(f"{'DOMAIN':<40}{'ACCOUNT':<16}{'STATUS':<24}{'CLIENTS':>8}  LAST CHECK")
    for d in rows:
        click.echo(
            f"{d.domain:<40}{d.account.account_number:<16}{d.shown_status:<24}"
            f"{len(d.clients):>8}  {fmt_time(d.last_checked_at)}"
        )


@domains.command("show")
@click.argument("domain")
@click.option("--account", "account_number", help="The account's claim (when several claim it).")
@service_errors
def show(domain: str, account_number: str | None) -> None:
    """A domain's status, name servers, last check and its result, and its clients."""
    found = _claim(domain, account_number)
    settings = current_settings()
    grace = timedelta(hours=settings.DOMAIN_GRACE_HOURS)
    until = serving_until(found.status, found.delegation_lost_at, grace)
    serving = "no"
    if until == FOREVER:
        serving = "yes"
    elif until is not None:
        serving = f"until {fmt_time(until)} (grace)" if until > utcnow() else "no (grace over)"
    fields = {
        "domain": found.domain,
        "account": found.account.account_number,
        "status": found.shown_status,
        "serving": serving,
        "zone": found.zone_id or "-",
        "name servers": ", ".join(found.name_servers) or "-",
        "verified at": fmt_time(found.verified_at),
        "last check": fmt_time(found.last_checked_at),
        "result": found.last_check_result or "-",
        "next check": fmt_time(found.next_check_at),
        "checks until": fmt_time(found.verify_deadline),
        "lost at": fmt_time(found.delegation_lost_at),
    }
    for label, value in fields.items():
        click.echo(f"{label + ':':<14}{value}")
    click.echo("clients:")
    for client in sorted(found.clients, key=lambda c: c.name):
        click.echo(f"  {client.name}.{found.domain}  ({client.deployment_status.value})")
    if not found.clients:
        click.echo(f"  none: flask domains attach {found.domain} --client NAME --account NUMBER")
    run = service.latest_run(found)
    if run is not None:
        click.echo(describe(run) + (f": {run.error}" if run.error else ""))
    if found.name_servers:
        print_delegation(found)


@domains.command("attach")
@click.argument("domain")
@click.option("--client", "client_name", required=True)
@click.option("--account", "account_number", required=True)
@service_errors
def attach(domain: str, client_name: str, account_number: str) -> None:
    """Serve a client at {client}.{DOMAIN} too (a new run once the domain is verified)."""
    account = accounts.get_account(account_number)
    client = client_service.get_client(account, client_name)
    found = service.get_domain(domain, account)
    run = service.attach_client(found, client)
    click.echo(f"{client.name} attached to {found.domain}: {client.name}.{found.domain}")
    _explain(run, found)


@domains.command("detach")
@click.option("--client", "client_name", required=True)
@click.option("--account", "account_number", required=True)
@service_errors
def detach(client_name: str, account_number: str) -> None:
    """Stop serving a client on its custom domain."""
    client = client_service.get_client(accounts.get_account(account_number), client_name)
    domain = client.custom_domain
    run = service.detach_client(client)
    if domain is None:
        click.echo(f"{client.name} has no custom domain")
        return
    click.echo(f"{client.name} detached from {domain.domain}")
    _explain(run, domain)


@domains.command("delete")
@click.argument("domain")
@click.option("--account", "account_number", help="The account's claim (when several claim it).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wait", is_flag=True, help="Block until the zone is destroyed.")
@service_errors
def delete(domain: str, yes: bool, wait: bool, account_number: str | None) -> None:
    """Destroy DOMAIN's zone and forget it (refused while a client uses it)."""
    found = _claim(domain, account_number)
    if not yes:
        click.confirm(f"delete custom domain {found.domain} and its hosted zone?", abort=True)
    run = service.delete_domain(found)
    finish(run, wait, current_settings().JOB_TIMEOUT_SECONDS)


def _claim(domain: str, account_number: str | None) -> CustomDomain:
    account = accounts.get_account(account_number) if account_number else None
    return service.get_domain(domain, account)


def _explain(run: InfraRun | None, domain: CustomDomain) -> None:
    if run is not None:
        click.echo(describe(run))
        click.echo(f"follow it: flask infra logs {run.id}")
    elif not domain.ever_verified:
        click.echo(f"served there once {domain.domain} is verified ({domain.shown_status})")
