"""The operator console under /admin: server-rendered pages (Jinja2 + Bootstrap 5 served
from the app), Flask-Login sessions, CSRF on every form, and the RQ dashboard.

The blueprint and its gate are in ``blueprint``; the modules imported here declare the
views on it."""

from __future__ import annotations

from flask import Flask

from app.blueprints.admin import (  # noqa: F401  (declare the views)
    accounts,
    auth,
    clients,
    domains,
    home,
    keys,
    members,
    plugins,
    provider_connections,
    publish,
    runs,
    sandbox,
    tokens,
    trail,
    usage,
)
from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.rq import mount_rq_dashboard
from app.config import Settings
from app.extensions import bootstrap, login_manager
from app.services.llm_models import deprecation_warning, replacement_shown

__all__ = ["bp", "init_admin"]


def init_admin(app: Flask, settings: Settings) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    bootstrap.init_app(app)
    app.jinja_env.globals.update(
        deprecation_warning=deprecation_warning, replacement_shown=replacement_shown
    )
    app.register_blueprint(bp)
    mount_rq_dashboard(app, settings)
