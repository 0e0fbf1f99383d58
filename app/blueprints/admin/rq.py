"""The RQ dashboard (rq-dashboard) under /admin/rq, for signed-in admins only.

Its blueprint is mounted as it is; we add the guard (login, and the same-origin rule for
its POST buttons, which post without our CSRF token) and point it at REDIS_URL. Without
Redis, /admin/rq is a console page saying so. Pinned to rq-dashboard 0.9.0 (needs ``six``);
its job page breaks for jobs with dependencies on rq 2.6+, and no job of ours has any
(tests open every page for each of our job kinds)."""

from __future__ import annotations

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_login import current_user

from app.config import Settings
from app.extensions import csrf
from app.request_hooks import resolver

RQ_PREFIX = "/admin/rq"


def mount_rq_dashboard(app: Flask, settings: Settings) -> None:
    if not settings.REDIS_URL:
        app.add_url_rule(RQ_PREFIX + "/", "admin_rq_missing", _no_redis)
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = settings.REDIS_URL
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    csrf.exempt(rq_dashboard.blueprint)
    app.before_request(_guard_rq_dashboard)


def _guard_rq_dashboard():
    if request.blueprint != "rq_dashboard":
        return None
    if g.get("host_route") is not None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if not current_user.is_platform_admin:
        abort(403)
    if request.method == "POST":
        source = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not resolver().is_trusted_origin(source):
            abort(403, "the RQ dashboard's buttons work from the console only")
    return None


def _no_redis():
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=RQ_PREFIX + "/"))
    if not current_user.is_platform_admin:
        abort(403)
    return render_template("admin/rq_missing.html")
