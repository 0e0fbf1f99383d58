"""``Idempotency-Key`` claims: the first of several requests with one key claims it (a
row inserted in its own short transaction: the unique constraint decides the winner) and
runs; the others wait for the winner's answer and get it again. Keys expire after
:data:`KEY_TTL`.

Each step runs in a session of its own, apart from the request's, so that a claim is
visible to the other requests at once and the view's own commits and rollbacks never
touch it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import IdempotentRequest
from app.models.common import utcnow

KEY_TTL = timedelta(hours=24)
# A claim whose request never finished (its process died) is given up after this long.
ABANDONED_AFTER = timedelta(minutes=10)
PENDING = 0  # the status of a claim whose request is still running


@dataclass(frozen=True)
class Stored:
    """What an earlier request with the key left: its fingerprint and, once it finished,
    its answer (``status`` is :data:`PENDING` until then)."""

    fingerprint: str
    status: int
    body: str

    @property
    def finished(self) -> bool:
        return self.status != PENDING


def _session() -> Session:
    return Session(db.engine, expire_on_commit=False)


def _same(user_id: int, key: str) -> ColumnElement[bool]:
    return (IdempotentRequest.user_id == user_id) & (IdempotentRequest.key == key)


def claim(user_id: int, key: str, fingerprint: str) -> bool:
    """Claim ``key`` for this request (True), or learn that another request has it.

    Expired keys of the user, and an abandoned claim of this key, are dropped first."""
    now = utcnow()
    with _session() as session:
        session.execute(
            delete(IdempotentRequest).where(
                IdempotentRequest.user_id == user_id,
                or_(
                    IdempotentRequest.created_at < now - KEY_TTL,
                    (IdempotentRequest.key == key)
                    & (IdempotentRequest.status == PENDING)
                    & (IdempotentRequest.created_at < now - ABANDONED_AFTER),
                ),
            )
        )
        session.add(
            IdempotentRequest(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint,
                status=PENDING,
                body="",
                created_at=now,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True


def stored(user_id: int, key: str) -> Stored | None:
    """The live (unexpired) record of ``key``, if any."""
    with _session() as session:
        row = session.execute(
            select(
                IdempotentRequest.fingerprint, IdempotentRequest.status, IdempotentRequest.body
            ).where(_same(user_id, key), IdempotentRequest.created_at >= utcnow() - KEY_TTL)
        ).first()
    return None if row is None else Stored(*row)


def finish(user_id: int, key: str, status: int, body: str) -> None:
    """Keep the claimed request's answer for the others (and later retries)."""
    with _session() as session:
        session.execute(
            update(IdempotentRequest).where(_same(user_id, key)).values(status=status, body=body)
        )
        session.commit()


def release(user_id: int, key: str) -> None:
    """Give the key up (the request failed): a retry runs again."""
    with _session() as session:
        session.execute(
            delete(IdempotentRequest).where(
                _same(user_id, key), IdempotentRequest.status == PENDING
            )
        )
        session.commit()
