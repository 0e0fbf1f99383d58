"""Production defaults of the console: sign-out ends the session server-side, pages
carry frame protection and the usual security headers."""

from __future__ import annotations

import re

import pytest
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


def test_the_console_cannot_be_framed_and_carries_security_headers(http):
    response = http.get("/admin/login")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_https_responses_ask_browsers_to_keep_to_https(http):
    response = http.get("/admin/login", base_url="https://localhost")
    assert response.status_code == 200  # no redirect either way: TLS is the ingress's job
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_plain_http_is_not_redirected_and_the_cookie_flag_stays_a_setting(app, admin):
    http = app.test_client()
    page = http.get("/admin/login")
    assert page.status_code == 200
    cookie = http.get_cookie("session")
    assert cookie is not None and not cookie.secure and cookie.http_only


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_chat_answers_carry_nosniff_too(http, demo, scheme):
    """A chat answer (JSON, never a page) carries nosniff, and HSTS over HTTPS; none of
    the console's document headers, which the console's pages keep."""
    from tests.conftest import host_of

    response = http.post(
        "/llm-client/",
        headers={"Host": host_of(demo)},
        json={"messages": [{"role": "user", "content": "hi"}]},
        base_url=f"{scheme}://{host_of(demo)}",
    )
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    hsts = response.headers.get("Strict-Transport-Security")
    assert hsts == ("max-age=31536000" if scheme == "https" else None)
    assert "Content-Security-Policy" not in response.headers
    page = http.get("/admin/login")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def _login_statuses(app, remote_addr: str, forwarded_for: list[str]) -> list[int]:
    """Wrong-password attempts from one peer, each claiming another X-Forwarded-For."""
    statuses = []
    for claimed in forwarded_for:
        with app.app_context():
            http = app.test_client()
            environ = {"REMOTE_ADDR": remote_addr}
            page = http.get("/admin/login", environ_base=environ).get_data(as_text=True)
            response = http.post(
                "/admin/login",
                data={"email": ADMIN_EMAIL, "password": "wrong!", "csrf_token": csrf_token(page)},
                headers={"X-Forwarded-For": claimed},
                environ_base=environ,
            )
            statuses.append(response.status_code)
    return statuses


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app, admin):
    app = make_app(ADMIN_LOGIN_RATE_LIMIT="2/minute", TRUSTED_PROXY_COUNT=0)
    claims = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    assert _login_statuses(app, "192.0.2.10", claims) == [401, 401, 429]


def test_one_trusted_proxy_means_only_the_hop_it_added_counts(make_app, admin):
    app = make_app(ADMIN_LOGIN_RATE_LIMIT="2/minute", TRUSTED_PROXY_COUNT=1)
    # The caller forges the left part; the proxy appends the address it saw (the right).
    claims = [f"203.0.113.{n}, 198.51.100.7" for n in (1, 2, 3)]
    assert _login_statuses(app, "192.0.2.11", claims) == [401, 401, 429]
    other_caller = ["203.0.113.1, 198.51.100.8"]
    assert _login_statuses(app, "192.0.2.11", other_caller) == [401]


def test_production_sends_the_console_cookies_over_https_only(app, make_app):
    """Secure by default with ENVIRONMENT=production (never sent over plain HTTP)."""

    def cookies(**overrides) -> list:
        console = make_app(**overrides)
        with console.app_context():
            create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        http = console.test_client()
        _sign_in_remembered(http)
        return [http.get_cookie(name) for name in COOKIES]

    production = cookies(
        ENVIRONMENT="production",
        SECRET_KEY="k" * 40,
        SECRETS_ENCRYPTION_KEYS="yYv3jHkq0F6C2f2j8qzQp3JcM7k1lS8nQ0wY9u4XbZE=",
    )
    assert all(cookie is not None and cookie.secure for cookie in production)
    development = cookies()
    assert all(cookie is not None and not cookie.secure for cookie in development)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|\son[a-z]+=")


def test_scripts_run_from_our_own_files_only(console, demo):
    """``script-src 'self'``: no inline script or handler on the console's pages."""
    pages = ["/admin/", "/admin/runs", "/admin/clients", "/admin/accounts", "/admin/domains"]
    pages += [f"/admin/clients/{demo.id}", f"/admin/accounts/{demo.account_id}"]
    for url in pages:
        response = console.get(url)
        assert response.status_code == 200, url
        policy = dict(
            part.strip().split(" ", 1)
            for part in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'", url
        assert not INLINE_SCRIPT.search(response.get_data(as_text=True)), url
