"""The host index's version stamp (:class:`~app.models.RoutingVersion`): every
transaction that changes what a host resolves to, or who may call it, bumps it in the same
flush (:func:`install_version_bump`); each process compares its index's version with it
(:func:`current_version`) and rebuilds when they differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction, scoped_session

from app.models import Account, CustomDomain, LlmClient
from app.models.routing import RoutingVersion

# A session, or Flask-SQLAlchemy's ``db.session`` (a scoped_session proxying one).
AnySession = Session | scoped_session[Any]

# Attributes whose change alters what a host resolves to or who may call it.
_ROUTED_ATTRS = {
    LlmClient: (
        "name",
        "account_id",
        "deployment_status",
        "live_hosts",
        "dns_status",
        "custom_domain_id",
        "custom_domain",  # set through the relationship, the column changes only in the flush
        "require_api_key",
        "allowed_origins",
    ),
    CustomDomain: ("domain", "status", "account_id", "delegation_lost_at"),
    Account: ("account_number",),
}


_VERSION_QUERY = select(RoutingVersion.__table__.c.version).where(
    RoutingVersion.__table__.c.id == 1
)


def current_version(session: AnySession) -> int:
    """The stamp, read with a prebuilt Core statement (this runs on every request)."""
    version = session.connection().execute(_VERSION_QUERY).scalar()
    return version if version is not None else 0


def _touches_routing(session: Session) -> bool:
    for obj in session.new | session.deleted:
        if type(obj) in _ROUTED_ATTRS:
            return True
    for obj in session.dirty:
        attrs = _ROUTED_ATTRS.get(type(obj))
        if attrs:
            state = inspect(obj)
            if any(state.attrs[a].history.has_changes() for a in attrs):
                return True
    return False


def bump_version(session: Session) -> None:
    """Increment the stamp inside the caller's transaction (creating the row if absent)."""
    result = session.connection().execute(
        update(RoutingVersion.__table__)
        .where(RoutingVersion.__table__.c.id == 1)
        .values(version=RoutingVersion.__table__.c.version + 1)
    )
    if result.rowcount == 0:
        session.add(RoutingVersion(id=1, version=1))


def _bump_before_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    if _touches_routing(session):
        bump_version(session)


def install_version_bump() -> None:
    """Bump the stamp in the same flush as any routing-relevant change (every Session)."""
    if not event.contains(Session, "before_flush", _bump_before_flush):
        event.listen(Session, "before_flush", _bump_before_flush)
