"""Credentials shown once and stored hashed (API keys ``cdk_``, personal access tokens
``cdp_``): one way to issue a secret and one to find the row a presented one opens, so
the two kinds cannot drift apart (a timing-safe comparison, the whole string matched)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db


class HashedCredential(Protocol):
    secret_hash: Any


Row = TypeVar("Row", bound=HashedCredential)


def digest(secret: str) -> str:
    """What is stored of a secret (it is random and long: no salt or slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """A public id (12 hex digits, shown in lists) and a secret (43 URL-safe characters)."""
    return secrets.token_hex(6), secrets.token_urlsafe(32)


def find_by_secret(
    raw: str, pattern: re.Pattern[str], model: type[Row], id_column: InstrumentedAttribute[str]
) -> Row | None:
    """The row ``raw`` opens: ``pattern`` fullmatches it with the id in group 1 and the
    secret in group 2, the id finds the row, and the secret's digest equals its hash.
    None otherwise, whichever part was wrong (the caller says only "invalid")."""
    match = pattern.fullmatch(raw.strip())
    if match is None:
        return None
    row = db.session.execute(select(model).where(id_column == match.group(1))).scalar_one_or_none()
    if row is None or not hmac.compare_digest(digest(match.group(2)), row.secret_hash):
        return None
    return row
