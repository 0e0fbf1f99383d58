"""flask clients ..."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from app.cli.common import F, fmt_time, service_errors
from app.cli.runs import finish
from app.config import current_settings
from app.domains.publish import IDENTITY_MODES, appearance_of
from app.errors import InvalidInput
from app.llm.registry import PROVIDER_NAMES
from app.models import LlmClient, RunStatus
from app.services import accounts, publish
from app.services import clients as service
from app.services import infra as infra_service
from app.services.client_state import PendingChange, client_state, client_states
from app.services.llm_models import model_label

clients = AppGroup("clients", help="LLM clients of accounts.")


def client_urls(client: LlmClient) -> list[str]:
    """Where a client answers (https in production; the dev server prints its own)."""
    hosts = service.client_hosts(client)
    return [f"{h}/llm-client/" for h in hosts] + [f"/api/v0/llm-clients/{client.id}/{client.name}/"]


@clients.command("create")
@click.argument("name")
@click.option("--account", "account_number", required=True, help="Account number ####-####-####.")
@click.option(
    "--provider",
    type=click.Choice(PROVIDER_NAMES),
    help="Default: the model's provider, else DEFAULT_PROVIDER.",
)
@click.option(
    "--model",
    help="A model of the catalog (flask models list); default: the provider's default model.",
)
@click.option("--system-prompt", help="System prompt sent before every conversation.")
@click.option("--temperature", type=float)
@click.option("--max-tokens", type=int)
@click.option(
    "--timeout-seconds", type=int, help="Deadline of the model's answer; 0: LLM_TIMEOUT_SECONDS."
)
@click.option("--require-api-key", is_flag=True, help="Refuse chat requests without a key.")
@click.option(
    "--allowed-origin", "allowed_origins", multiple=True, help="Origin allowed to embed (CORS)."
)
@click.option(
    "--deployed",
    is_flag=True,
    help="Serve at once without provisioning infrastructure (wildcard DNS/ingress, dev, tests).",
)
@service_errors
def create(
    name: str, account_number: str, deployed: bool, allowed_origins: tuple[str, ...], **opts: Any
) -> None:
    """Create client NAME (a DNS label) in an account."""
    account = accounts.get_account(account_number)
    spec = service.parse_spec(name=name, allowed_origins=list(allowed_origins), **opts)
    client = service.create_client(account, spec, deployed=deployed)
    click.echo(f"created client {client.name} (id {client.id}) in account {account.account_number}")
    click.echo(f"status: {client.deployment_status.value}")
    for url in client_urls(client):
        click.echo(f"  {url}")


@clients.command("update")
@click.argument("name")
@click.option("--account", "account_number", required=True, help="Account number ####-####-####.")
@click.option(
    "--provider",
    type=click.Choice(PROVIDER_NAMES),
    help="Another provider (without --model: its default model).",
)
@click.option("--model", help="A model of the catalog (flask models list).")
@click.option("--system-prompt", help="System prompt sent before every conversation.")
@click.option("--temperature", type=float, help="0 to 2.")
@click.option("--max-tokens", type=int, help="Longest answer, 1 to 200000.")
@click.option(
    "--timeout-seconds",
    type=int,
    help="Deadline of the model's answer, 1 to 600; 0: LLM_TIMEOUT_SECONDS.",
)
@click.option(
    "--require-api-key/--no-require-api-key",
    default=None,
    help="Refuse chat requests without a key (or stop refusing them).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Origin allowed to embed (CORS); repeat it; replaces the list.",
)
@click.option("--no-allowed-origins", is_flag=True, help="Empty the list of allowed origins.")
@click.option("--display-name", help="Chat page and widget: the name shown.")
@click.option("--welcome-message", help="Chat page: the first message a visitor sees.")
@click.option(
    "--example-prompt",
    "example_prompts",
    multiple=True,
    help="Chat page: a suggested question; repeat it (at most 6); replaces the list.",
)
@click.option("--placeholder", help="Chat page: the message box's placeholder.")
@click.option("--logo-url", help="Chat page: the logo (an https:// URL; '' removes it).")
@click.option("--accent-color", help="Chat page and widget: the colour, #rrggbb.")
@click.option(
    "--identity",
    type=click.Choice(IDENTITY_MODES),
    help="Widget visitors: anonymous (off), identified when they can be (optional) or only "
    "identified users (required).",
)
@service_errors
def update(
    name: str,
    account_number: str,
    allowed_origins: tuple[str, ...],
    no_allowed_origins: bool,
    example_prompts: tuple[str, ...],
    **opts: Any,
) -> None:
    """Change client NAME's settings: only the options given (the name never changes).
    They apply at the next chat request: no deploy needed."""
    if allowed_origins and no_allowed_origins:
        raise InvalidInput("--allowed-origin and --no-allowed-origins contradict each other")
    client = service.get_client(accounts.get_account(account_number), name)
    looks = {field: opts.pop(field) for field in APPEARANCE_OPTIONS}
    if example_prompts:
        looks["example_prompts"] = list(example_prompts)
    patch = {key: value for key, value in opts.items() if value is not None}
    if allowed_origins or no_allowed_origins:
        patch["allowed_origins"] = list(allowed_origins)
    looks = {key: value for key, value in looks.items() if value is not None}
    if looks:
        patch["appearance"] = {**service.client_settings(client)["appearance"], **looks}
    if not patch:
        raise InvalidInput("nothing to change: give at least one option (see --help)")
    before = service.client_settings(client)
    service.patch_client(client, patch)
    after = service.client_settings(client)
    changed = [f"  {k}: {before[k]!r} -> {after[k]!r}" for k in after if before[k] != after[k]]
    click.echo(f"updated client {client.name} of account {account_number}")
    click.echo("\n".join(changed) if changed else "  nothing changed")


APPEARANCE_OPTIONS = ("display_name", "welcome_message", "placeholder", "logo_url", "accent_color")


@clients.command("identity-secret")
@click.argument("name")
@click.option("--account", "account_number", required=True, help="Account number ####-####-####.")
@service_errors
def identity_secret(name: str, account_number: str) -> None:
    """Make a new identity secret for client NAME and print it once (the previous one stops
    verifying users). Your server signs user ids with it: docs/publish.md."""
    client = service.get_client(accounts.get_account(account_number), name)
    secret = publish.rotate_identity_secret(client)
    click.echo(f"identity secret of client {client.name} (shown once; keep it on your server):")
    click.echo(secret)


@clients.command("list")
@click.option("--account", "account_number", help="Only this account's clients.")
@service_errors
def list_(account_number: str | None) -> None:
    """List clients with their status."""
    account = accounts.get_account(account_number) if account_number else None
    rows = service.list_clients(account)
    if not rows:
        click.echo("no clients yet: flask clients create NAME --account NUMBER")
        return
    states = client_states(rows)
    name_width = max(24, *(len(c.name) + 2 for c in rows))
    click.echo(
        f"{'ID':>5}  {'ACCOUNT':<16}{'NAME':<{name_width}}{'STATUS':<13}{'PROVIDER':<11}"
        f"{'MODEL':<24}CHANGE"
    )
    for c in rows:
        change = states[c.id].change
        click.echo(
            f"{c.id:>5}  {c.account.account_number:<16}{c.name:<{name_width}}"
            f"{c.deployment_status.value:<13}{c.provider:<11}{model_label(c.llm_model):<24}"
            f"{change.text() if change else '-'}"
        )


@clients.command("show")
@click.argument("name")
@click.option("--account", "account_number", required=True)
@service_errors
def show(name: str, account_number: str) -> None:
    """Show one client: settings, status, hosts."""
    client = service.get_client(accounts.get_account(account_number), name)
    state = client_state(client)
    fields = {
        "id": client.id,
        "name": client.name,
        "account": client.account.account_number,
        "status": state.headline(),
        "serving": state.serving_text(),
        "change": _change_line(state.change),
        "dns": client.dns_status.value,
        "tls": client.tls_status.value
        + (
            f" ({client.tls_detail}; checked {fmt_time(client.tls_checked_at)})"
            if client.tls_detail
            else ""
        ),
        "provider": client.provider,
        "model": model_label(client.llm_model),
        "connection": client.provider_connection.name
        if client.provider_connection
        else "- (the platform's provider settings)",
        "fallbacks": ", ".join(
            f"{f['model']}"
            + (f" ({f['provider_connection']})" if f.get("provider_connection") else "")
            for f in client.fallbacks or []
        )
        or "-",
        "temperature": client.temperature,
        "max tokens": client.max_tokens,
        "deadline": f"{client.timeout_seconds}s"
        if client.timeout_seconds
        else "the platform's (LLM_TIMEOUT_SECONDS)",
        "requires API key": "yes" if client.require_api_key else "no",
        "allowed origins": ", ".join(client.allowed_origins or []) or "-",
        "appearance": _appearance_line(client),
        "identity": f"{client.identity_mode} (secret {publish.identity_secret_state(client)})",
        "custom domain": (
            f"{client.custom_domain.domain} ({client.custom_domain.status.value})"
            if client.custom_domain
            else "-"
        ),
        "deployed at": fmt_time(client.deployed_at),
        "created at": fmt_time(client.created_at),
        "system prompt": client.system_prompt or "-",
    }
    for label, value in fields.items():
        click.echo(f"{label + ':':<18}{value}")
    click.echo("endpoints:")
    for url in client_urls(client):
        click.echo(f"  {url}")


def _appearance_line(client: LlmClient) -> str:
    looks = appearance_of(client.appearance)
    return (
        f"{looks.display_name or client.name!r}, {looks.accent_color}, "
        f"{len(looks.example_prompts)} example prompt(s)"
        + (f", logo {looks.logo_url}" if looks.logo_url else "")
    )


def _change_line(change: PendingChange | None) -> str:
    """The pending change with what to do about it."""
    if change is None:
        return "none (the infrastructure is as the last apply left it)"
    if change.status == RunStatus.AWAITING_APPROVAL:
        return f"{change.text()}: flask infra show {change.run_id}, then approve or discard"
    if change.failed:
        return f"{change.text()}; its log: flask infra logs {change.run_id}"
    return change.text()


def _wait_option(func: F) -> F:
    return click.option(
        "--wait", is_flag=True, help="Block until the run ends; non-zero exit if it errored."
    )(func)


@clients.command("deploy")
@click.argument("name")
@click.option("--account", "account_number", required=True)
@click.option("--auto-approve", is_flag=True, help="Apply the plan without review.")
@click.option("--drift-check", is_flag=True, help="Run terraform even if nothing changed.")
@_wait_option
@service_errors
def deploy(
    name: str, account_number: str, auto_approve: bool, drift_check: bool, wait: bool
) -> None:
    """Provision the client's infrastructure (plan, review, apply) and serve it."""
    client = service.get_client(accounts.get_account(account_number), name)
    run = infra_service.request_deploy(client, auto_approve=auto_approve, drift_check=drift_check)
    finish(run, wait, current_settings().JOB_TIMEOUT_SECONDS)


@clients.command("undeploy")
@click.argument("name")
@click.option("--account", "account_number", required=True)
@click.option("--auto-approve", is_flag=True, help="Apply the destroy plan without review.")
@_wait_option
@service_errors
def undeploy(name: str, account_number: str, auto_approve: bool, wait: bool) -> None:
    """Stop serving the client and destroy its infrastructure; the client stays."""
    client = service.get_client(accounts.get_account(account_number), name)
    run = infra_service.request_undeploy(client, auto_approve=auto_approve)
    finish(run, wait, current_settings().JOB_TIMEOUT_SECONDS)


@clients.command("delete")
@click.argument("name")
@click.option("--account", "account_number", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_wait_option
@service_errors
def delete(name: str, account_number: str, yes: bool, wait: bool) -> None:
    """Delete the client, its sessions and keys' scope, and destroy its infrastructure."""
    client = service.get_client(accounts.get_account(account_number), name)
    if not yes:
        click.confirm(
            f"delete client {name} of {account_number} and its infrastructure?", abort=True
        )
    run = infra_service.request_delete(client)
    finish(run, wait, current_settings().JOB_TIMEOUT_SECONDS)
