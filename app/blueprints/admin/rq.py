"""The RQ dashboard (rq-dashboard) under /admin/rq, for signed-in admins only.

Its blueprint is mounted as it is; we add the guard (login, and the same-origin rule for
every request that changes something, whatever its method: its buttons post without our
CSRF token, and its "requeue all" also answers GET) and point it at REDIS_URL. Without
Redis, /admin/rq is a console page saying so. Pinned to rq-dashboard 0.9.0 (needs ``six``);
its job page breaks for jobs with dependencies on rq 2.6+, and no job of ours has any
(tests open every page for each of our job kinds)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from redis.exceptions import ResponseError
from rq.exceptions import NoSuchJobError

from app.config import Settings
from app.error_handlers import console_error_page
from app.extensions import csrf
from app.queue import redis_url_with_timeouts
from app.request_hooks import resolver
from app.security_headers import allow_inline_scripts

RQ_PREFIX = "/admin/rq"
# The dashboard's pages and JSON reads; every other endpoint of it changes something
# (requeue, delete, empty, compact, and whatever a later version adds).
READ_ONLY_ENDPOINTS = frozenset(
    f"rq_dashboard.{name}"
    for name in (
        "static",
        "favicon",
        "queues_overview",
        "workers_overview",
        "jobs_overview",
        "job_view",
        "list_queues",
        "list_jobs",
        "job_info",
        "list_workers",
    )
)


def mount_rq_dashboard(app: Flask, settings: Settings) -> None:
    if not settings.REDIS_URL:
        app.add_url_rule(RQ_PREFIX + "/", "admin_rq_missing", _no_redis)
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url_with_timeouts(settings)
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    csrf.exempt(rq_dashboard.blueprint)
    app.before_request(_guard_rq_dashboard)
    compact = "rq_dashboard.compact_queue"
    app.view_functions[compact] = _empty_queue_is_compact(app.view_functions[compact])
    allow_inline_scripts(app, "rq_dashboard")
    app.after_request(_link_back_to_console)
    app.register_error_handler(NoSuchJobError, _no_such_job)


def _guard_rq_dashboard() -> ResponseReturnValue | None:
    if request.blueprint != "rq_dashboard":
        return None
    if g.get("host_route") is not None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if not current_user.is_platform_admin:
        abort(403)
    if request.endpoint not in READ_ONLY_ENDPOINTS and not _same_origin():
        abort(403, "the RQ dashboard's buttons work from the console only")
    return None


def _same_origin() -> bool:
    """The request comes from a console page: the browser says so (Sec-Fetch-Site), or
    its Origin (else its Referer) is a platform host. A request with none of these (a
    typed URL, a stripped Referer) is not trusted to change anything."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    source = origin if origin is not None else request.headers.get("Referer", "")
    return resolver().is_trusted_origin(source)


def _empty_queue_is_compact(view: Callable) -> Callable:
    """rq's ``Queue.compact`` renames the queue's key, which Redis refuses when the queue
    is empty (no key): an empty queue is already compact."""

    def compact_queue(queue_name: str) -> ResponseReturnValue:
        try:
            return view(queue_name=queue_name)
        except ResponseError as error:
            if "no such key" not in str(error).lower():
                raise
            return jsonify(status="OK")

    return compact_queue


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


def _no_such_job(error: NoSuchJobError) -> ResponseReturnValue:
    """An unknown or expired job id: a 404 in the console's look, not a 500."""
    return console_error_page(
        404,
        "No such job in Redis: its id is wrong, or RQ dropped it after its result "
        "expired. The run's page in the console keeps its log and result.",
    )


def _no_redis() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=RQ_PREFIX + "/"))
    if not current_user.is_platform_admin:
        abort(403)
    return render_template("admin/rq_missing.html")
