"""The console's login with Redis (the rate limiter's storage) down: it answers as usual
and keeps counting attempts in memory, then counts in Redis again once it is back."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from redis import Redis

from app.services.users import create_admin
from devtools.services import redis_server_process
from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in


def _limiter_keys(url: str) -> list[bytes]:
    return Redis.from_url(url).keys("*chatdock*")


@contextlib.contextmanager
def _warnings() -> Iterator[list[str]]:
    """The messages logged at WARNING and above meanwhile (the app replaces the root
    logger's handlers when it is built, so pytest's caplog would miss them)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        yield messages
    finally:
        logging.getLogger().removeHandler(handler)


def _attempt(app, password: str = ADMIN_PASSWORD) -> int:
    """One sign-in from a new browser, in its own app context as in production."""
    with app.app_context():
        return sign_in(app.test_client(), password=password).status_code


def test_login_survives_a_redis_outage_and_uses_redis_again_after_it(app, make_app, caplog):
    create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    with redis_server_process() as redis:
        limited = make_app(REDIS_URL=redis.url, ADMIN_LOGIN_RATE_LIMIT="3/minute")
        with limited.app_context():
            assert _attempt(limited) == 302
            assert _limiter_keys(redis.url)  # counted in Redis

            redis.stop()
            with _warnings() as warnings:
                assert _attempt(limited) == 302
            assert any("storage unreachable" in message for message in warnings)
            assert _attempt(limited, "wrong password!") == 401
            assert _attempt(limited) == 302
            # still limited meanwhile, in memory: the 4th attempt of the minute is refused
            assert _attempt(limited) == 429

            redis.start()
            assert not _limiter_keys(redis.url)  # a fresh server (no persistence)
            deadline = time.monotonic() + 60
            while not _limiter_keys(redis.url):  # the limiter re-checks with backoff
                assert time.monotonic() < deadline, "the limiter never went back to Redis"
                assert _attempt(limited) in (302, 429)
                time.sleep(0.5)
            assert _attempt(limited) == 302
