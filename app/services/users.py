"""Admin users."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.errors import InvalidInput
from app.extensions import db
from app.models import AdminUser

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12


def create_admin(email: str, password: str) -> tuple[AdminUser, bool]:
    """Create an admin, or set a new password for an existing one. Returns (user, created)."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise InvalidInput(f"invalid email address {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = db.session.execute(
        select(AdminUser).where(AdminUser.email == email)
    ).scalar_one_or_none()
    created = user is None
    if user is None:
        user = AdminUser(email=email)
        db.session.add(user)
    user.set_password(password)
    user.is_active = True
    db.session.commit()
    return user, created
