"""The audit trail: who changed what, when and from where. Append-only in the
application: the ORM refuses to update or delete a row (no code path does either).

``account_id`` has no foreign key: the trail of an account outlives the account.
``changes`` holds {field: [before, after]} of the changed fields, never secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Integer, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # platform_admin | member | token | cli | job | anonymous (services.audit.ACTOR_KINDS)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(254))  # email, "email (token ID)", OS user, job
    source: Mapped[str] = mapped_column(String(16))  # console | api | cli | job
    address: Mapped[str | None] = mapped_column(String(64))  # the caller's IP (web)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(mapper: Mapper[AuditEvent], connection: Connection, target: AuditEvent) -> None:
    raise AuditIsAppendOnly("audit events are never changed or deleted")
