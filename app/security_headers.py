"""Security headers on every response (flask-talisman): the console cannot be framed
(clickjacking), content types are not sniffed, referrers do not leak paths to other
sites, and browsers that reached us over HTTPS keep to it (HSTS).

Scripts load from our own origin only (``script-src 'self'``: no inline script or
handler, so an injected ``<script>`` does not run); the console's behaviour lives in
static files. The RQ dashboard, a third-party page for platform admins, keeps its inline
scripts and templates (:func:`allow_inline_scripts`).

The chat API's answers (JSON and event streams, never rendered as a page) get only the
headers that mean something there, nosniff and HSTS over HTTPS, set here without
Talisman's per-request work (:mod:`app.hook_scope`).

HTTPS itself is the ingress's job, so nothing is redirected here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_talisman import Talisman

from app.config import Settings
from app.hook_scope import init_app_outside

CONTENT_SECURITY_POLICY = {
    "script-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
}
# rq-dashboard's pages run inline scripts and compile underscore templates (eval).
INLINE_SCRIPTS_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "script-src": "'self' 'unsafe-inline' 'unsafe-eval'",
}
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600

talisman = Talisman()


def init_security_headers(app: Flask, settings: Settings, api_call: Callable[[], bool]) -> None:
    """Talisman's headers on every response but the API calls' (``api_call()``), which
    get :func:`_api_headers`."""
    init_app_outside(app, lambda: _init_talisman(app, settings), api_call)
    app.after_request(functools.partial(_api_headers, api_call))


def _init_talisman(app: Flask, settings: Settings) -> None:
    talisman.init_app(
        app,
        force_https=False,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="strict-origin-when-cross-origin",
        # Sent on HTTPS responses only (browsers ignore it over HTTP); not for subdomains,
        # which an operator's other services may serve without TLS.
        strict_transport_security=True,
        strict_transport_security_max_age=HSTS_MAX_AGE_SECONDS,
        strict_transport_security_include_subdomains=False,
        # Talisman would otherwise force the session cookie Secure: that stays a setting.
        session_cookie_secure=settings.cookies_secure,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )


def _api_headers(api_call: Callable[[], bool], response: Response) -> Response:
    if api_call():
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE_SECONDS}"
    return response


def allow_inline_scripts(app: Flask, blueprint: str) -> None:
    """Serve ``blueprint``'s views with :data:`INLINE_SCRIPTS_POLICY`: flask-talisman reads
    a view's ``talisman_view_options``, set here on a wrapper (some views are bound
    methods, which take no attributes)."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(f"{blueprint}."):
            app.view_functions[endpoint] = _with_inline_scripts(view)


def _with_inline_scripts(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    options = {"content_security_policy": INLINE_SCRIPTS_POLICY}
    setattr(wrapped, "talisman_view_options", options)  # noqa: B010  (talisman's name)
    return wrapped
