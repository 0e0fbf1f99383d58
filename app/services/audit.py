"""Recording and reading the audit trail.

``record`` adds an event to the caller's transaction, so it exists exactly when the
change it describes was committed. Who acted is found, not passed around: the console
sets its signed-in admin for the request (``set_request_actor``), an RQ job is the job,
anything else outside a request is the CLI run by the OS user.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import g, has_request_context, request
from rq import get_current_job
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent

NEVER_RECORDED = frozenset({"secret", "secret_hash", "password", "password_hash"})


@dataclass(frozen=True)
class Actor:
    kind: str  # admin | cli | job | api
    name: str
    source: str  # console | cli | job | api
    address: str | None = None


def set_request_actor(actor: Actor) -> None:
    """Who acts in this request (the console: its signed-in admin)."""
    g.audit_actor = actor


def current_actor() -> Actor:
    if has_request_context():
        actor = g.get("audit_actor")
        return actor or Actor("api", "anonymous", "api", request.remote_addr)
    job = get_current_job()
    if job is not None:
        return Actor("job", f"{job.func_name} ({job.id})", "job")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("cli", user, "cli")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record(
    action: str,
    object_type: str,
    object_id: Any,
    *,
    account_id: int | None = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> AuditEvent:
    """Add one event to the session (committed with the change it records)."""
    actor = current_actor()
    event = AuditEvent(
        actor_type=actor.kind,
        actor=actor.name[:254],
        source=actor.source,
        address=actor.address,
        account_id=account_id,
        object_type=object_type,
        object_id=str(object_id)[:300],
        action=action,
        changes={
            name: [_plain(before), _plain(after)]
            for name, (before, after) in (changes or {}).items()
            if name not in NEVER_RECORDED
        },
    )
    db.session.add(event)
    return event


def field_changes(obj: Any, fields: tuple[str, ...], before: dict[str, Any]) -> dict:
    """{field: (before, after)} of the ``fields`` of ``obj`` that differ from ``before``."""
    return {
        name: (before[name], getattr(obj, name))
        for name in fields
        if before[name] != getattr(obj, name)
    }


def events(
    *,
    account_id: int | None = None,
    since: date | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """Newest first, filtered."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(AuditEvent.account_id == account_id)
    if since is not None:
        query = query.where(
            AuditEvent.at >= datetime(since.year, since.month, since.day, tzinfo=UTC)
        )
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    return list(db.session.execute(query).scalars())
