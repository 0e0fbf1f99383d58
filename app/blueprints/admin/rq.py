"""The RQ dashboard (rq-dashboard) under /admin/rq, for signed-in admins only.

Its blueprint is mounted as it is; we add the guard (login, and the same-origin rule for
its POST buttons, which post without our CSRF token) and point it at REDIS_URL. Without
Redis, /admin/rq is a console page saying so. Pinned to rq-dashboard 0.9.0 (needs ``six``);
its job page breaks for jobs with dependencies on rq 2.6+, and no job of ours has any
(tests open every page for each of our job kinds)."""

from __future__ import annotations

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from rq.exceptions import NoSuchJobError

from app.config import Settings
from app.error_handlers import console_error_page
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
    app.after_request(_link_back_to_console)
    app.register_error_handler(NoSuchJobError, _no_such_job)


def _guard_rq_dashboard():
    if request.blueprint != "rq_dashboard":
        return None
    if g.get("host_route") is not None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        source = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not resolver().is_trusted_origin(source):
            abort(403, "the RQ dashboard's buttons work from the console only")
    return None


# rq-dashboard's own navbar brand; ours links back to the console in front of it.
RQ_BRAND = '<a class="navbar-brand">RQ-dashboard</a>'


def _link_back_to_console(response: Response) -> Response:
    """The dashboard's pages get a way back to the console (their navbar has none)."""
    if request.blueprint != "rq_dashboard" or response.mimetype != "text/html":
        return response
    if response.direct_passthrough or response.is_streamed:
        return response
    page = response.get_data(as_text=True)
    back = (
        f'<a class="navbar-brand" id="back-to-console" href="{url_for("admin.home")}">'
        "&larr; chatdock console</a>"
    )
    response.set_data(page.replace(RQ_BRAND, back + RQ_BRAND, 1))
    return response


def _no_such_job(error: NoSuchJobError):
    """An unknown or expired job id: a 404 in the console's look, not a 500."""
    return console_error_page(
        404,
        "No such job in Redis: its id is wrong, or RQ dropped it after its result "
        "expired. The run's page in the console keeps its log and result.",
    )


def _no_redis():
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=RQ_PREFIX + "/"))
    return render_template("admin/rq_missing.html")
