"""CORS for the chat API, answered from the client's route (its hosts and
``allowed_origins``), never from a scan or a global list.

flask-cors takes one static origin list per resource; here the allowed origins depend on
which client the request resolves to, so the few headers are set by hand.
"""

from __future__ import annotations

from flask import Response, g, request

from app.errors import Forbidden
from app.hosts import ClientRoute

ALLOWED_HEADERS = "Content-Type, X-Api-Key, Authorization, X-Request-ID, X-Chatdock-Widget"
MAX_AGE_SECONDS = "600"


def check_origin(route: ClientRoute) -> None:
    """Refuse a browser request from a foreign origin before it costs a provider call."""
    origin = request.headers.get("Origin")
    if not origin:
        return
    if not route.allows_origin(origin):
        raise Forbidden(f"origin {origin} may not call this client", code="origin_not_allowed")
    g.cors_origin = origin


def preflight(route: ClientRoute) -> Response:
    check_origin(route)
    if "cors_origin" not in g:
        raise Forbidden("a CORS preflight needs an Origin header", code="origin_not_allowed")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
    return response


def add_cors_headers(response: Response) -> Response:
    response.vary.add("Origin")
    origin = g.get("cors_origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = (
            "X-Request-ID, X-Chatdock-Warning, Warning, X-Chatdock-Model"
        )
    return response
