"""The operator console under /admin: server-rendered pages (Jinja2 + Bootstrap 5 served
from the app), Flask-Login sessions, CSRF on every form, and the RQ dashboard.

It is served on platform hosts only (never on a client's host), and every page but the
login needs a signed-in admin."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.config import Settings
from app.extensions import bootstrap, db, login_manager
from app.models import AdminUser
from app.names import is_ascii_digits
from app.services import audit, users
from app.services.llm_models import deprecation_warning, replacement_shown

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
    user = db.session.get(AdminUser, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def _console_only_for_admins() -> ResponseReturnValue | None:
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


def init_admin(app: Flask, settings: Settings) -> None:
    from app.blueprints.admin import (  # noqa: F401  (register the views)
        accounts,
        auth,
        clients,
        domains,
        home,
        keys,
        members,
        plugins,
        runs,
        sandbox,
        tokens,
        trail,
        usage,
    )
    from app.blueprints.admin.rq import mount_rq_dashboard

    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    bootstrap.init_app(app)
    app.jinja_env.globals.update(
        deprecation_warning=deprecation_warning, replacement_shown=replacement_shown
    )
    if not bp.before_request_funcs.get(None):
        bp.before_request(_console_only_for_admins)
    app.register_blueprint(bp)
    mount_rq_dashboard(app, settings)
