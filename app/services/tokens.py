"""Personal access tokens of the management API: shown once, stored hashed, expiring,
revocable.

A token looks like ``cdp_<token_id>_<secret>``: ``token_id`` (12 hex characters) is
public and finds the row; only the SHA-256 of the 256-bit random secret is stored (a
fast hash is right for a high-entropy secret), compared in constant time. A token acts
as its user, with the user's role: it never reaches more than the user does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.errors import InvalidInput, NotFound, Unauthorized
from app.extensions import db
from app.models import AdminUser, PersonalAccessToken
from app.models.common import utcnow
from app.services import audit, hashed_secrets
from app.services.users import seen

TOKEN_PREFIX = "cdp_"
TOKEN_RE = re.compile(r"cdp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")  # fullmatch
DEFAULT_DAYS = 90
MAX_DAYS = 365


@dataclass(frozen=True)
class IssuedToken:
    """A fresh token: ``plaintext`` exists only here, never in the database."""

    token: PersonalAccessToken
    plaintext: str


def create_token(
    user: AdminUser, label: str = "", expires_in_days: int = DEFAULT_DAYS
) -> IssuedToken:
    """Issue a token acting as ``user``; every token expires (at most MAX_DAYS)."""
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"expires-in-days must be between 1 and {MAX_DAYS}")
    token_id, secret = hashed_secrets.new_secret()
    token = PersonalAccessToken(
        token_id=token_id,
        secret_hash=hashed_secrets.digest(secret),
        user=user,
        label=(label or "").strip()[:200],
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    db.session.add(token)
    audit.record(
        "create",
        "token",
        token_id,
        changes={"user": (None, user.email), "label": (None, token.label)},
    )
    db.session.commit()
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}{token_id}_{secret}")


def list_tokens(user: AdminUser) -> list[PersonalAccessToken]:
    return list(
        db.session.execute(
            select(PersonalAccessToken)
            .where(PersonalAccessToken.user_id == user.id)
            .order_by(PersonalAccessToken.id)
        ).scalars()
    )


def token_status(token: PersonalAccessToken) -> str:
    if token.revoked_at:
        return "revoked"
    if token.expires_at <= utcnow():
        return "expired"
    return "active"


def revoke_token(user: AdminUser, token_id: str) -> PersonalAccessToken:
    """Revoke one of the user's own tokens at once (another user's is "not found")."""
    token_id = (token_id or "").strip().removeprefix(TOKEN_PREFIX).split("_")[0]
    token = db.session.execute(
        select(PersonalAccessToken).where(
            PersonalAccessToken.token_id == token_id, PersonalAccessToken.user_id == user.id
        )
    ).scalar_one_or_none()
    if token is None:
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "revoke", "token", token.token_id, changes={"revoked_at": (None, token.revoked_at)}
        )
        db.session.commit()
    return token


def authenticate(raw: str | None) -> PersonalAccessToken:
    """The active token (of an active user) of a bearer header's value, or a 401 saying
    why not. Its use is noted: the token's and its user's last use."""
    if not raw:
        raise Unauthorized(
            "send a personal access token: 'Authorization: Bearer cdp_...'", code="token_missing"
        )
    token = hashed_secrets.find_by_secret(
        raw, TOKEN_RE, PersonalAccessToken, PersonalAccessToken.token_id
    )
    if token is None:
        raise Unauthorized("invalid token", code="token_invalid")
    status = token_status(token)
    if status != "active":
        raise Unauthorized(f"token {token.token_id} is {status}", code=f"token_{status}")
    if not token.user.is_active:
        raise Unauthorized("the token's user is disabled", code="token_invalid")
    token.last_used_at = utcnow()
    db.session.commit()
    seen(token.user)
    return token
