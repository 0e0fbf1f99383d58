"""The console's blueprint object and its gate, apart from the package so that the views
can declare themselves on it without importing the package that imports them.

It is served on platform hosts only (never on a client's host), and every page but the
login needs a signed-in admin."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.extensions import login_manager
from app.models import AdminUser
from app.names import is_ascii_digits
from app.services import audit, users

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.static", "admin.accept_invitation"})
# What only platform admins do in the console; every other page shows an account member
# only their accounts' objects (``common.get_or_404``, ``common.visible``).
ADMIN_ONLY_ENDPOINTS = frozenset({"admin.account_new"})


@login_manager.user_loader
def _load_user(session_id: str) -> AdminUser | None:
    """The admin of a session or remember cookie: ``<id>.<session_version>``; a cookie
    from before the admin's last sign-out (or password change) names an old version."""
    user_id, _, version = session_id.partition(".")
    if not (is_ascii_digits(user_id) and is_ascii_digits(version)):
        return None
    return users.session_user(int(user_id), int(version))


@bp.before_request
def console_gate() -> ResponseReturnValue | None:
    """Client hosts never serve the console; every page but the login needs an admin."""
    if g.get("host_route") is not None:
        abort(404)
    if current_user.is_authenticated:
        audit.set_request_actor(audit.console_actor(current_user, request.remote_addr))
        users.seen(current_user)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated:
        if current_user.is_platform_admin or request.endpoint not in ADMIN_ONLY_ENDPOINTS:
            return None
        abort(403)
    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
