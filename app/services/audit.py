"""Recording and reading the audit trail.

``record`` adds an event to the caller's transaction, so it exists exactly when the
change it describes was committed. Who acted is found, not passed around: the console
sets its signed-in user for the request (``set_request_actor``: a platform admin or an
account member), the management API the token and its user, any other request starts as
anonymous (the request hooks); an RQ job is the job, anything else is the CLI run by the
OS user. The actor lives in a context variable (per thread or greenlet), so this module
needs no Flask.

Actor kinds (``ACTOR_KINDS``): platform_admin, member, token, cli, job; ``anonymous`` is
a request nobody signed (an invitation accepted by a new user is recorded as that user,
a member).
"""

from __future__ import annotations

import getpass
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from rq import get_current_job
from sqlalchemy import select

from app.extensions import db
from app.models import AdminUser, AuditEvent
from app.services.access import visible_account_ids_query

NEVER_RECORDED = frozenset({"secret", "secret_hash", "password", "password_hash"})


ACTOR_KINDS = ("platform_admin", "member", "token", "cli", "job", "anonymous")


@dataclass(frozen=True)
class Actor:
    kind: str  # one of ACTOR_KINDS
    name: str  # an email, "email (token ID)", the OS user, the job
    source: str  # console | api | cli | job
    address: str | None = None


def console_actor(user: AdminUser, address: str | None) -> Actor:
    """A signed-in user of the console: a platform admin, or an account member."""
    kind = "platform_admin" if user.is_platform_admin else "member"
    return Actor(kind, user.email, "console", address)


_request_actor: ContextVar[Actor | None] = ContextVar("audit_request_actor", default=None)


def set_request_actor(actor: Actor | None) -> None:
    """Who acts in this request (anonymous at its start; the console's signed-in user,
    the API's token once known); None when the request ends."""
    _request_actor.set(actor)


def current_actor() -> Actor:
    actor = _request_actor.get()
    if actor is not None:
        return actor
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
    as_member: str | None = None,
) -> AuditEvent:
    """Add one event to the session (committed with the change it records).
    ``as_member``: who acted when nobody is signed in yet (an invitation's new user)."""
    actor = current_actor()
    if as_member is not None and actor.kind == "anonymous":
        actor = Actor("member", as_member, actor.source, actor.address)
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
    visible_to: AdminUser | None = None,
    since: date | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """Newest first, filtered; ``visible_to``: only the events of that user's accounts
    (all of them for a platform admin; never an event of no account for a member)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if visible_to is not None:
        reachable = visible_account_ids_query(visible_to)
        if reachable is not None:
            query = query.where(AuditEvent.account_id.in_(reachable))
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
