"""The published client on its own hosts: the chat page (``/``), its script and style,
``widget.js`` for customers' pages, ``/config``, widget tokens and a visitor's history.

The page's Content-Security-Policy is its own (not the console's): scripts, styles and
requests from this host only, images from this host and the logo's origin, and
``frame-ancestors`` exactly the client's ``allowed_origins`` (``'none'`` when it lists
none). The page may also be opened directly (it is the client's hosted chat page): a
client that requires an API key or identified users then shows that it is available
only where it is embedded, since a page opened directly gets no widget token."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Response, jsonify, render_template, request, send_from_directory
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.blueprints.chat.blueprint import bp
from app.blueprints.chat.cors import check_origin, preflight
from app.blueprints.chat.routes import WIDGET_TOKEN_HEADER, _route_from_host, rate_limiter
from app.blueprints.http import parse_body
from app.domains.publish import logo_origin
from app.errors import Unauthorized
from app.hosts import ClientRoute
from app.schemas.chat_body import SESSION_KEY_PATTERN
from app.services import chat_rate, publish

STATIC = Path(__file__).parent / "static"
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css", "widget.js": "text/javascript"}
ASSET_MAX_AGE = 300
# No talisman headers on these views: the page sets its own CSP and frame-ancestors.
OWN_HEADERS = {"content_security_policy": None, "frame_options": None}


class HistoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_key: StrictStr | None = Field(None, max_length=64)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: StrictStr | None = Field(None, max_length=128)
    user_hash: StrictStr | None = Field(None, max_length=128)


def page_policy(route: ClientRoute, logo_url: str) -> str:
    """The chat page's Content-Security-Policy (nonce-free: no inline script at all)."""
    ancestors = " ".join(sorted(route.allowed_origins)) or "'none'"
    images = "'self'" + (f" {logo_origin(logo_url)}" if logo_url else "")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            f"frame-ancestors {ancestors}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def chat_page() -> Response:
    route = _route_from_host()
    config = publish.public_config(route)
    appearance = config["appearance"]
    html = render_template(
        "chat/page.html",
        config=config,
        appearance=appearance,
        page_config=json.dumps(
            {
                "client": route.name,
                "requiresToken": config["requires_token"],
                "identity": config["identity"],
                "allowedOrigins": sorted(route.allowed_origins),
                "accentColor": appearance["accent_color"],
                "maxChars": config["limits"]["max_message_chars"],
            }
        ),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page_policy(route, appearance["logo_url"])
    response.headers["Cache-Control"] = "no-store"
    return response


def asset(name: str) -> Response:
    """The page's script and style and ``widget.js``: served by chatdock, no CDN."""
    _route_from_host()
    response = send_from_directory(STATIC, name, mimetype=ASSETS[name], max_age=ASSET_MAX_AGE)
    # widget.js is loaded by customers' pages: it may be embedded cross-origin.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def config() -> Response:
    """What the widget needs; a browser on a site the client does not list is refused."""
    route = _route_from_host()
    check_origin(route)
    return _no_store(jsonify(publish.public_config(route)))


def token() -> Response:
    """A short-lived token for the embedding page's origin (the Origin header)."""
    route = _route_from_host()
    if request.method == "OPTIONS":
        return preflight(route)
    chat_rate.check(
        rate_limiter(), route.client_id, request.remote_addr
    )  # the chat's own bucket: a token per chat at most
    check_origin(route)
    body = parse_body(TokenBody) if request.get_data() else TokenBody()
    issued = publish.issue_token(route, request.headers.get("Origin"), body.user_id, body.user_hash)
    return _no_store(
        jsonify(token=issued.token, expires_in=issued.expires_in, user_id=issued.user_id)
    )


def history() -> Response:
    """The visitor's conversation: by widget token (an identified user's, on any device)
    or by the session key the browser kept. A POST, so that browsers send its Origin
    (checked like a chat request's) and the key stays out of URLs and access logs."""
    route = _route_from_host()
    if request.method == "OPTIONS":
        return preflight(route)
    check_origin(route)
    raw = request.headers.get(WIDGET_TOKEN_HEADER)
    visitor = (
        publish.read_token(raw, route, request.headers.get("Origin")) if raw else publish.ANONYMOUS
    )
    if not raw and publish.public_config(route)["requires_token"]:
        raise Unauthorized("a widget token is needed here", code="widget_token_missing")
    key = (parse_body(HistoryBody) if request.get_data() else HistoryBody()).session_key
    if key is not None and not re.fullmatch(SESSION_KEY_PATTERN, key):
        key = None
    return _no_store(jsonify(publish.history(route, visitor, key)))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _own_headers(view: Any) -> Any:
    setattr(view, "talisman_view_options", dict(OWN_HEADERS))  # noqa: B010  (talisman's name)
    return view


def _asset_view(name: str) -> Any:
    def view() -> Response:
        return asset(name)

    return view


bp.add_url_rule("/", "chat_page", _own_headers(chat_page), methods=["GET"])
for _name in ASSETS:
    endpoint = f"asset_{_name.replace('.', '_')}"
    bp.add_url_rule(f"/{_name}", endpoint, _asset_view(_name), methods=["GET"])
bp.add_url_rule("/config", "config", config, methods=["GET"])
bp.add_url_rule(
    "/widget/token",
    "widget_token",
    token,
    methods=["POST", "OPTIONS"],
    provide_automatic_options=False,
)
bp.add_url_rule(
    "/widget/history",
    "widget_history",
    history,
    methods=["POST", "OPTIONS"],
    provide_automatic_options=False,
)
