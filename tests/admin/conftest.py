"""Console fixtures: an admin, and a test client signed in through the real login form
(CSRF on, as in production)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.services.users import create_admin

ADMIN_EMAIL = "ops@chatdock.test"
ADMIN_PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"'
)


def csrf_token(page: str) -> str:
    match = TOKEN_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def admin(app):
    user, _ = create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    return user


def sign_in(http: FlaskClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD):
    page = http.get("/admin/login").get_data(as_text=True)
    return http.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page)},
    )


@pytest.fixture
def console(app, admin) -> FlaskClient:
    http = app.test_client()
    response = sign_in(http)
    assert response.status_code == 302, response.get_data(as_text=True)
    return http


class IsolatedClient(FlaskClient):
    """A browser of its own: each request in a fresh app context, as in production (the
    test's app context would otherwise share ``g``, and Flask-Login's user, between
    clients)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def new_browser(app) -> FlaskClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


def post_form(http: FlaskClient, page_url: str, action_url: str, data: dict | None = None):
    """Submit a form the way a browser would: with the token from the page it is on."""
    token = csrf_token(http.get(page_url).get_data(as_text=True))
    return http.post(action_url, data={**(data or {}), "csrf_token": token})
