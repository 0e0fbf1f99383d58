"""Per-request plumbing: request id, Host check against the host index, access log, metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ChatdockError, Forbidden, NotFound
from app.extensions import db
from app.hosts import HostIndex, HostResolver, normalize_host
from app.logging_setup import get_logger
from app.metrics import record_request
from app.services import audit

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch
# Answer on any Host but a client's: probes and scrapers call the pod's address.
PROBES = frozenset({"health.readyz", "health.metrics"})
# The platform's own endpoints: never on a client host or a tenant's domain (a token of
# one tenant must not act through another tenant's domain; counters are platform-wide).
PLATFORM_ONLY_BLUEPRINTS = frozenset({"management", "api", "admin", "rq_dashboard", "bootstrap"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The chat API: its POSTs route on the index as it is (the stamp comes back with the
# client's settings, app.blueprints.chat.routes verifies it: one database read fewer per
# chat), and the console's extensions' hooks step aside for it (is_chat_api_call).
CHAT_API_ENDPOINTS = frozenset(
    {
        "chat.chat_on_client_host",
        "chat.chat_by_path",
        "chat.openai_on_client_host",
        "chat.openai_by_path",
    }
)

log = get_logger("chatdock.access")


def is_chat_api_call() -> bool:
    """The request is a call of the chat API (a JSON or event-stream answer, no page)."""
    return request.endpoint in CHAT_API_ENDPOINTS


def resolver() -> HostResolver:
    return current_app.extensions["chatdock.hosts"]


def _start_request() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)
    source = "console" if (request.blueprint or "").startswith("admin") else "api"
    audit.set_request_actor(audit.Actor("anonymous", "anonymous", source, request.remote_addr))


def _end_request(_error: BaseException | None) -> None:
    audit.set_request_actor(None)  # a thread's next request starts anonymous again


def _probe_index(hosts: HostResolver) -> HostIndex:
    """The index for a probe: the last one built when the database does not answer
    (/readyz must then say 503 not_ready, not fail)."""
    try:
        return hosts.index(db.session)
    except SQLAlchemyError:
        db.session.rollback()
        return hosts.snapshot


def _check_host() -> None:
    """Unknown Hosts get 400 before any view runs (``/healthz`` answers everywhere, the
    probes everywhere but on client hosts); the platform's own endpoints are 404 on
    client hosts and tenants' domains.

    The index snapshot is kept on ``g`` so the views resolve /api/v0 paths from the same
    snapshot, without a second staleness check. A chat call (:data:`CHAT_API_ENDPOINTS`)
    takes the index unchecked (``g.host_index_verified`` false): its view compares the
    stamp read with the client's settings, and checks now before any refusal
    (:func:`refresh_host_index`)."""
    g.host_route = None
    g.host_index_verified = True
    if request.endpoint == "health.healthz":
        return
    hosts = resolver()
    if request.endpoint in PROBES:
        if hosts.is_client_host(_probe_index(hosts), request.host):
            raise NotFound("not found")
        return
    g.host_index_verified = not (request.method == "POST" and is_chat_api_call())
    index = hosts.index(db.session) if g.host_index_verified else hosts.current(db.session)
    if request.blueprint in PLATFORM_ONLY_BLUEPRINTS and hosts.is_client_host(index, request.host):
        raise NotFound("not found")
    # An unknown host on an unchecked index: deployed a moment ago, in another process?
    if not _route_on(index) and not refresh_host_index():
        raise _unknown_host()


def _route_on(index: HostIndex) -> bool:
    """Route the request on ``index`` (``g.host_index``, ``g.host_route``); False when
    its host is neither served there nor one of the platform's."""
    g.host_index = index
    g.host_route = index.route_for(normalize_host(request.host))
    return g.host_route is not None or resolver().is_platform_host(request.host)


def _unknown_host() -> ChatdockError:
    return ChatdockError("this host is not served here", code="unknown_host", status=400)


def refresh_host_index() -> bool:
    """Check an unverified index against the stamp now (before a refusal based on it);
    True when it was stale and the request's route was resolved again on the fresh one.
    Once per request: the index then counts as verified."""
    if g.get("host_index_verified", True):
        return False
    g.host_index_verified = True
    index = resolver().index(db.session, force=True)
    if index.version == g.host_index.version:
        return False
    if not _route_on(index):
        raise _unknown_host()  # as if the request had met the fresh index first
    return True


def _check_form_origin() -> None:
    """CSRF defence in depth for the console: unsafe requests from browsers must come
    from a platform host (the chat API authenticates by key, not cookie, and is exempt)."""
    if request.method not in UNSAFE_METHODS or request.blueprint in (None, "chat", "health"):
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null" and not resolver().is_trusted_origin(origin):
        raise Forbidden("cross-origin request refused", code="untrusted_origin")


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    rule = request.url_rule.rule if request.url_rule else None
    record_request(request.method, rule, response.status_code, elapsed)
    if not log.isEnabledFor(logging.INFO):  # the line's fields cost more than the check
        return response
    route = g.get("host_route")
    log.info(
        "request",
        method=request.method,
        path=request.path,
        host=request.host,
        status=response.status_code,
        duration_ms=round(elapsed * 1000, 2),
        client_id=route.client_id if route else None,
    )
    return response


def register_request_hooks(app: Flask) -> None:
    app.before_request(_start_request)
    app.teardown_request(_end_request)
    app.before_request(_check_host)
    app.before_request(_check_form_origin)
    app.after_request(_finish_request)
