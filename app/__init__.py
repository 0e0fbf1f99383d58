"""The chatdock Flask application."""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask
from sqlalchemy import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from app.change_feed import ChangeFeed, listen_conninfo
from app.config import Settings, get_settings
from app.extensions import csrf, db, limiter, migrate
from app.flask_app import ChatdockFlask
from app.hook_scope import init_app_outside
from app.hosts import HostResolver, install_version_bump
from app.logging_setup import configure_logging
from app.request_hooks import is_chat_api_call
from app.security_headers import init_security_headers
from app.services import chat_rate
from app.services.chat_settings import CHAT_SETTINGS, ChatSettingsCache


def _engine_options(settings: Settings) -> dict:
    """No ``pool_pre_ping``: a round trip on every checkout (two a chat request) to guard
    against a database restart, which SQLAlchemy already handles by recycling the whole
    pool after the first disconnect it sees (that one request fails with 503)."""
    # A failed statement's error (str(exc), so every logged traceback) never carries its
    # bound parameters: they hold password hashes, token hashes, emails.
    options: dict = {"hide_parameters": True}
    if make_url(settings.DATABASE_URL).get_backend_name() == "sqlite":
        return options | {"connect_args": {"timeout": settings.SQLITE_BUSY_TIMEOUT_SECONDS}}
    return options | {
        "pool_size": settings.DATABASE_POOL_SIZE,
        "max_overflow": settings.DATABASE_MAX_OVERFLOW,
        "pool_timeout": settings.DATABASE_POOL_TIMEOUT_SECONDS,
        "pool_recycle": 1800,
    }


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app: settings, extensions, host index, blueprints, CLI."""
    settings = settings or get_settings()
    app = ChatdockFlask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    if not settings.WORKSPACES_DIR:  # its documented default, resolved once for the services
        workspaces = os.path.join(app.instance_path, "workspaces")
        settings = settings.model_copy(update={"WORKSPACES_DIR": workspaces})
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)

    app.config.update(
        SECRET_KEY=settings.SECRET_KEY.get_secret_value(),
        SQLALCHEMY_DATABASE_URI=settings.DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        MAX_CONTENT_LENGTH=settings.MAX_CONTENT_LENGTH,
        SESSION_COOKIE_SECURE=settings.cookies_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        RATELIMIT_ENABLED=bool(settings.CHAT_RATE_LIMIT or settings.ADMIN_LOGIN_RATE_LIMIT),
        RATELIMIT_STORAGE_URI=settings.REDIS_URL or "memory://",
        RATELIMIT_STORAGE_OPTIONS=(
            {
                "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": settings.REDIS_READ_TIMEOUT_SECONDS,
            }
            if settings.REDIS_URL
            else {}
        ),
        RATELIMIT_KEY_PREFIX="chatdock",
        # Redis down must not turn the console's login (or chat) into 500s: count in
        # memory meanwhile (Flask-Limiter logs the outage), back to Redis once it answers.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        REMEMBER_COOKIE_SECURE=settings.cookies_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        BOOTSTRAP_SERVE_LOCAL=True,  # no CDN: operators' networks may be offline
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers keep their fields' order
    app.extensions["chatdock.settings"] = settings
    if settings.TRUSTED_PROXY_COUNT:
        n = settings.TRUSTED_PROXY_COUNT
        # Flask's documented way to add WSGI middleware (mypy sees a method replaced).
        proxied = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
        app.wsgi_app = proxied  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    # The console's extensions step aside for chat API calls (app.hook_scope): CSRF (the
    # chat blueprint is exempt anyway), the login limit, and below Flask-Login's cookie.
    init_app_outside(app, lambda: csrf.init_app(app), is_chat_api_call)
    init_app_outside(app, lambda: limiter.init_app(app), is_chat_api_call)
    init_security_headers(app, settings, is_chat_api_call)
    install_version_bump()
    app.extensions[chat_rate.EXTENSION] = chat_rate.build_limiter(settings)
    app.extensions[CHAT_SETTINGS] = ChatSettingsCache()
    app.extensions["chatdock.hosts"] = HostResolver(
        customer_api_domain=settings.CUSTOMER_API_DOMAIN,
        platform_hosts=frozenset(settings.PLATFORM_HOSTS),
        dev_hosts_enabled=settings.DEV_HOSTS_ENABLED,
        check_seconds=settings.HOST_INDEX_CHECK_SECONDS,
        domain_grace=timedelta(hours=settings.DOMAIN_GRACE_HOURS),
    )

    from app import models  # noqa: F401  (register tables)
    from app.blueprints.admin import init_admin
    from app.blueprints.api import bp as api_bp
    from app.blueprints.chat import bp as chat_bp
    from app.blueprints.health import bp as health_bp
    from app.blueprints.management import init_management
    from app.cli import register_cli
    from app.error_handlers import register_error_handlers
    from app.request_hooks import register_request_hooks

    register_request_hooks(app)
    register_error_handlers(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(chat_bp)
    init_management(app)
    init_app_outside(app, lambda: init_admin(app, settings), is_chat_api_call)
    register_cli(app)
    return app


def listen_for_changes(app: Flask) -> None:
    """Let this process keep its clients' chat settings: start the change feed
    (:mod:`app.change_feed`) when the database is PostgreSQL and ``CHAT_SETTINGS_CACHE``
    is on. Once per web worker (``gunicorn.conf.py``), after gevent is in place."""
    cache: ChatSettingsCache | None = app.extensions.get(CHAT_SETTINGS)
    if cache is None or cache.feed is not None:  # not chatdock's app (a benchmark's), or done
        return
    settings: Settings = app.extensions["chatdock.settings"]
    conninfo = listen_conninfo(settings.DATABASE_URL)
    if conninfo is None or not settings.CHAT_SETTINGS_CACHE:
        return
    cache.feed = ChangeFeed(conninfo)
    cache.feed.start()
