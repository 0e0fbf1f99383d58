"""Users: platform admins, and customers who are members of accounts."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import InvalidInput
from app.extensions import db
from app.models import AdminUser
from app.models.common import utcnow
from app.services import audit

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # fullmatch
MIN_PASSWORD_LENGTH = 12
SEEN_EVERY = timedelta(minutes=5)  # "last seen" is this precise, for one write at most


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.fullmatch(email) or len(email) > 254:
        raise InvalidInput(f"invalid email address {email!r}")
    return email


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def find_user(email: str) -> AdminUser | None:
    return db.session.execute(
        select(AdminUser).where(AdminUser.email == normalize_email(email))
    ).scalar_one_or_none()


def session_user(user_id: int, session_version: int) -> AdminUser | None:
    """The active user of a session or remember cookie, unless the cookie predates the
    user's last sign-out or password change (another ``session_version``)."""
    user = db.session.get(AdminUser, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user


def sign_in(email: str, password: str) -> AdminUser | None:
    """The active user with this email and password, else None (whichever was wrong)."""
    user = db.session.execute(
        select(AdminUser).where(AdminUser.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is not None and user.is_active and user.check_password(password):
        seen(user)
        return user
    return None


def seen(user: AdminUser) -> None:
    """Note that the user is active now (the members list's "last seen"): one short
    UPDATE at most every SEEN_EVERY, committed on its own."""
    now = utcnow()
    if user.last_seen_at is not None and now - user.last_seen_at < SEEN_EVERY:
        return
    db.session.execute(
        update(AdminUser)
        .where(AdminUser.id == user.id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    set_committed_value(user, "last_seen_at", now)


def sign_out(user: AdminUser) -> None:
    """End every session and remember cookie of the user."""
    user.end_sessions()
    db.session.commit()


def create_admin(email: str, password: str) -> tuple[AdminUser, bool]:
    """Create an admin, or set a new password for an existing one. Returns (user, created)."""
    return set_user(email, password, platform_admin=True)


def set_user(
    email: str, password: str, *, platform_admin: bool, commit: bool = True, record: bool = True
) -> tuple[AdminUser, bool]:
    """Create a user, or set the password of an existing one; ``platform_admin`` makes
    them an operator (never taken away here). Returns (user, created). Audited unless
    ``record`` is False (an accepted invitation is its own event)."""
    email = normalize_email(email)
    check_password_rules(password)
    user = find_user(email)
    created = user is None
    was_admin = user is not None and user.is_platform_admin
    if user is None:
        user = AdminUser(email=email, is_platform_admin=platform_admin)
        db.session.add(user)
    elif platform_admin:
        user.is_platform_admin = True
    user.set_password(password)
    user.is_active = True
    if record:  # the fact, never the password
        changes = {}
        if created or user.is_platform_admin != was_admin:
            changes["platform_admin"] = (None if created else was_admin, user.is_platform_admin)
        audit.record("create" if created else "set_password", "user", email, changes=changes)
    if commit:
        db.session.commit()
    return user, created
