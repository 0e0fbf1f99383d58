"""Production defaults of the console: sign-out ends the session server-side, pages
carry frame protection and the usual security headers."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.services.users import create_admin
from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token, post_form

COOKIES = ("session", "remember_token")


def _sign_in_remembered(http: FlaskClient) -> None:
    page = http.get("/admin/login").get_data(as_text=True)
    response = http.post(
        "/admin/login",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "remember": "y",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302


def _captured(http: FlaskClient) -> dict[str, str]:
    return {name: http.get_cookie(name).value for name in COOKIES if http.get_cookie(name)}


def _replay(app, cookies: dict[str, str]):
    """The console's home page as a new browser holding only the copied cookies sees it
    (in a fresh app context, as each request in production: Flask-Login caches the
    user on ``g``)."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    with app.app_context():
        return thief.get("/admin/")


def test_cookies_copied_before_sign_out_do_not_work_after_it(app, admin):
    http = app.test_client()
    _sign_in_remembered(http)
    stolen = _captured(http)
    assert set(stolen) == set(COOKIES)
    assert _replay(app, stolen).status_code == 200  # they work until sign-out

    assert post_form(http, "/admin/", "/admin/logout").status_code == 302

    for name in COOKIES:  # the session cookie alone, and the remember cookie alone
        response = _replay(app, {name: stolen[name]})
        assert response.status_code == 302, name
        assert response.headers["Location"].startswith("/admin/login")


def test_signing_in_again_after_sign_out_works(app, admin):
    http = app.test_client()
    _sign_in_remembered(http)
    post_form(http, "/admin/", "/admin/logout")
    _sign_in_remembered(http)
    assert http.get("/admin/").status_code == 200


def test_a_new_password_ends_the_sessions_made_with_the_old_one(app, admin):
    http = app.test_client()
    _sign_in_remembered(http)
    stolen = _captured(http)
    create_admin(ADMIN_EMAIL, "another long passphrase")
    assert _replay(app, stolen).status_code == 302
