"""flask audit: who changed what, when and from where (newest first)."""

from __future__ import annotations

import json

import click

from app.cli.common import fmt_time, service_errors
from app.cli.usage import parse_day
from app.errors import InvalidInput
from app.services import accounts
from app.services import audit as service


def parse_object(value: str | None) -> tuple[str | None, str | None]:
    """``TYPE`` or ``TYPE:ID`` (e.g. ``client:7``, ``api_key:3f2a...``, ``run:12``)."""
    if not value:
        return None, None
    kind, _, ident = value.partition(":")
    if not kind:
        raise InvalidInput(f"invalid --object {value!r}: expected TYPE or TYPE:ID")
    return kind, ident or None


@click.command("audit")
@click.option("--account", "account_number", help="Only this account's events.")
@click.option("--since", help="From this day on (YYYY-MM-DD, UTC).")
@click.option("--object", "object_ref", help="TYPE or TYPE:ID, e.g. client:7 or run:12.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@service_errors
def audit(
    account_number: str | None, since: str | None, object_ref: str | None, limit: int
) -> None:
    """The audit trail: every operator change, with its actor and changed fields."""
    account = accounts.get_account(account_number) if account_number else None
    object_type, object_id = parse_object(object_ref)
    events = service.events(
        account_id=account.id if account else None,
        since=parse_day(since),
        object_type=object_type,
        object_id=object_id,
        limit=limit,
    )
    if not events:
        click.echo("no events")
    for event in events:
        where = event.source + (f" {event.address}" if event.address else "")
        click.echo(
            f"{event.id:>6} {fmt_time(event.at)} {event.actor_type}:{event.actor} ({where}) "
            f"{event.action} {event.object_type}:{event.object_id} "
            f"{json.dumps(event.changes, sort_keys=True)}"
        )
