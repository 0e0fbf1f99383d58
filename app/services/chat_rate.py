"""``CHAT_RATE_LIMIT``: requests per client and caller address, one bucket whatever the
path or host that reached the client (and the widget's token requests with them).

Counted with the ``limits`` library directly (fixed windows, in Redis when ``REDIS_URL``
is set, else in the process), after the client is resolved: one counter call on a chat
request, and none when the setting is empty. Flask-Limiter, which the console's login
keeps, ran twice per chat request and resolved the host a second time to build its key.
Fails open when Redis cannot be reached, like the other limits.
"""

from __future__ import annotations

import functools
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from app.config import Settings, current_settings
from app.metrics import LIMITS_REFUSED
from app.services import limits

EXTENSION = "chatdock.chat_rate"  # where create_app keeps an app's counter


@functools.lru_cache(maxsize=8)
def _items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


def build_limiter(settings: Settings) -> FixedWindowRateLimiter:
    """An app's counter (its own in-process counters without Redis: apps never share)."""
    storage: Storage = (
        RedisStorage(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=settings.REDIS_READ_TIMEOUT_SECONDS,
        )
        if settings.REDIS_URL
        else MemoryStorage()
    )
    return FixedWindowRateLimiter(storage)


def check(limiter: FixedWindowRateLimiter, client_id: int, address: str | None) -> None:
    """Count this request against ``CHAT_RATE_LIMIT`` for the client and the caller's
    address; 429 ``rate_limited`` with ``Retry-After`` when a window is full."""
    spec = current_settings().CHAT_RATE_LIMIT
    if not spec:
        return
    address = address or "-"
    for item in _items(spec):
        try:
            admitted = limiter.hit(item, "chat", str(client_id), address)
            if admitted:
                continue
            reset = limiter.get_window_stats(item, "chat", str(client_id), address).reset_time
        except Exception as error:  # the storage's own errors (redis-py's, ...): fail open
            limits.fail_open(error)
            return
        retry_after = max(1, math.ceil(reset - time.time()))
        LIMITS_REFUSED.labels(limit="rate").inc()
        raise limits.LimitReached(
            f"rate limit reached (CHAT_RATE_LIMIT: {item}); retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
        )
