"""flask usage ... and flask limits ...: what accounts used, what they may use."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime

import click
from flask.cli import AppGroup

from app.cli.common import service_errors
from app.errors import InvalidInput
from app.services import accounts, budget_state, clients, limit_settings, limits
from app.services import usage as service

COLUMNS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms_avg",
    "latency_p50_ms",
    "latency_p95_ms",
    "refused_budget",
    "refused_rate",
)


def parse_day(value: str | None) -> date | None:
    """A --since option: YYYY-MM-DD, or a clear error (exit 2)."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(f"invalid date {value!r}: expected YYYY-MM-DD") from None


@click.command("usage")
@click.option("--account", "account_number", help="Only this account (####-####-####).")
@click.option("--client", "client_name", help="Only this client (needs --account).")
@click.option("--since", help="From this day on (YYYY-MM-DD, UTC).")
@click.option(
    "--by",
    type=click.Choice(service.GROUPINGS),
    default="day",
    show_default=True,
    help="One row per day, client, API key or model.",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout.")
@service_errors
def usage(
    account_number: str | None, client_name: str | None, since: str | None, by: str, as_csv: bool
) -> None:
    """Requests, tokens, errors and latency from the usage aggregates."""
    if client_name and not account_number:
        raise InvalidInput("--client needs --account (client names are per account)")
    account = accounts.get_account(account_number) if account_number else None
    client = clients.get_client(account, client_name) if account and client_name else None
    rows = service.report(
        account_id=account.id if account else None,
        client_id=client.id if client else None,
        since=parse_day(since),
        by=by,
    )
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([by, *COLUMNS])
        for row in rows:
            values = row.as_dict()
            writer.writerow([row.group, *(values[c] for c in COLUMNS)])
        return
    if not rows:
        click.echo("no usage")
    for row in rows:
        values = row.as_dict()
        click.echo(f"{row.group:<20} " + "  ".join(f"{c}={values[c]}" for c in COLUMNS))
    if account is not None:
        state = budget_state.budget_state(account)
        since = f" since {state.since:%Y-%m-%d}" if state.since else ""
        click.echo(
            f"this month: {state.used} tokens"
            + (
                f" of a {state.budget} budget ({state.percent}%): {state.level}{since}"
                if state.budget
                else " (no budget)"
            )
        )
        if state.refusing():
            click.echo(state.refusing())


limits_cli = AppGroup("limits", help="Token budgets and per-minute rate limits.")


@limits_cli.command("set")
@click.option("--account", "account_number", required=True)
@click.option("--client", "client_name", help="Set the limits of this client.")
@click.option("--key", "key_id", help="Set the limits of this API key (its key id).")
@click.option("--monthly-tokens", type=int, help="The account's monthly token budget (0: none).")
@click.option("--rpm", type=int, help="Requests per minute of the client or key (0: none).")
@click.option("--tpm", type=int, help="Tokens per minute of the client or key (0: none).")
@click.option(
    "--user-rpm", type=int, help="Requests per minute of each identified widget user (--client)."
)
@click.option(
    "--user-tpm", type=int, help="Tokens per minute of each identified widget user (--client)."
)
@service_errors
def set_(
    account_number: str,
    client_name: str | None,
    key_id: str | None,
    monthly_tokens: int | None,
    rpm: int | None,
    tpm: int | None,
    user_rpm: int | None,
    user_tpm: int | None,
) -> None:
    """Set a budget (account) or rate limits (--client or --key); prints what changed."""
    account = accounts.get_account(account_number)
    if client_name and key_id:
        raise InvalidInput("give --client or --key, not both")
    if (rpm is not None or tpm is not None) and not (client_name or key_id):
        raise InvalidInput("--rpm and --tpm are limits of a client or a key: add --client or --key")
    if (user_rpm is not None or user_tpm is not None) and not client_name:
        raise InvalidInput("--user-rpm and --user-tpm are limits of a client: add --client")
    if all(v is None for v in (monthly_tokens, rpm, tpm, user_rpm, user_tpm)):
        raise InvalidInput("nothing to set: give --monthly-tokens, --rpm, --tpm or --user-rpm/tpm")
    changes: dict[str, tuple] = {}
    if monthly_tokens is not None:
        changes |= limit_settings.set_budget(account, monthly_tokens, by=None)
    if client_name or key_id:
        owner = (
            clients.get_client(account, client_name)
            if client_name
            else limit_settings.get_key(account, key_id or "")
        )
        changes |= limit_settings.set_rate_limits(
            owner,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            user_requests_per_minute=user_rpm,
            user_tokens_per_minute=user_tpm,
            by=None,
        )
    for name, (before, after) in changes.items():
        click.echo(f"{name}: {_shown(before)} -> {_shown(after)}")
    if not changes:
        click.echo("unchanged")


@limits_cli.command("show")
@click.option("--account", "account_number", required=True)
@service_errors
def show(account_number: str) -> None:
    """The account's budget and use this month, and its clients' and keys' limits."""
    account = accounts.get_account(account_number)
    figures = limits.limits_now(account.id)
    click.echo(f"monthly token budget: {_shown(figures['budget'])}; used: {figures['used']}")
    for client in clients.list_clients(account):
        click.echo(
            f"client {client.name}: rpm {_shown(client.requests_per_minute)}, "
            f"tpm {_shown(client.tokens_per_minute)}; each widget user: "
            f"rpm {_shown(client.user_requests_per_minute)}, "
            f"tpm {_shown(client.user_tokens_per_minute)}"
        )
    for key in account.api_keys:
        click.echo(
            f"key {key.key_id}: rpm {_shown(key.requests_per_minute)}, "
            f"tpm {_shown(key.tokens_per_minute)}"
        )


def _shown(value: int | None) -> str:
    return "none" if value is None else str(value)
