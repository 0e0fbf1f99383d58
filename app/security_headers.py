"""Security headers on every response (flask-talisman): the console cannot be framed
(clickjacking), content types are not sniffed, referrers do not leak paths to other
sites, and browsers that reached us over HTTPS keep to it (HSTS).

HTTPS itself is the ingress's job, so nothing is redirected here. The policy is kept
to what holds for every page, the RQ dashboard's inline scripts included."""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

from app.config import Settings

CONTENT_SECURITY_POLICY = {
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
}
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600

talisman = Talisman()


def init_security_headers(app: Flask, settings: Settings) -> None:
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
        session_cookie_secure=settings.SESSION_COOKIE_SECURE,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )
