"""The HTTP connection pool behind every model call: httpcore's, with bookkeeping that
stays cheap when a process holds hundreds of calls at once.

httpcore 1.0's pool re-examines every connection on every request and every response
close, and for each idle one counts all connections again (quadratic), polling each idle
socket on the way (under gevent a poll is a trip through the event loop). Profiled at
256 chats in flight against a model that answers after 1 s, that bookkeeping was a
quarter of chatdock's CPU, and a pool over 100 connections closed every connection
that went idle (its keep-alive count counted busy ones too). Upstream declined the fix
(encode/httpcore#924, #929). This pool assigns queued requests in one pass and checks a
connection's socket for a server-side close only when it is about to be reused, as
urllib3 does; closed and failed connections are dropped, and idle ones beyond the
keep-alive cap or past their keep-alive closed, when it tidies (once per keep-alive
period, or when it is full).
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx

# One pod holds a thousand chats in flight (gunicorn.conf.py's WORKER_CONNECTIONS): as
# many connections to one model endpoint, all of them kept alive between calls.
MAX_CONNECTIONS = 1000


class LinearConnectionPool(httpcore.ConnectionPool):
    """httpcore's connection pool with linear-time request assignment. The whole list of
    connections is tidied (closed ones dropped, idle ones past the keep-alive cap or
    their keep-alive closed) once per keep-alive period, or when the pool is full or
    holds more connections than it may keep idle: not on every request and response,
    where only the queued requests are assigned."""

    _next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        now = time.monotonic()
        closing: list[httpcore.ConnectionInterface] = []
        if (
            now >= self._next_sweep
            or len(self._connections) > self._max_keepalive_connections
            or len(self._connections) >= self._max_connections
        ):
            self._next_sweep = now + (self._keepalive_expiry or 5.0)
            closing = self._tidy()
        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            reusable = self._reusable(origin, closing)
            if reusable is None:
                if len(self._connections) >= self._max_connections:
                    spare = next((c for c in self._connections if c.is_idle()), None)
                    if spare is None:
                        continue  # stays queued until a connection is released
                    self._connections.remove(spare)
                    closing.append(spare)
                reusable = self.create_connection(origin)
                self._connections.append(reusable)
            pool_request.assign_to_connection(reusable)
        return closing

    def _tidy(self) -> list[httpcore.ConnectionInterface]:
        """Drop closed connections; the idle ones past the keep-alive cap, unusable (their
        connect failed) or past their keep-alive are returned to be closed."""
        closing: list[httpcore.ConnectionInterface] = []
        kept: list[httpcore.ConnectionInterface] = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.is_idle():
                idle += 1
                if (
                    idle > self._max_keepalive_connections
                    or not connection.is_available()
                    or connection.has_expired()
                ):
                    closing.append(connection)
                    continue
            kept.append(connection)
        self._connections = kept
        return closing

    def _reusable(
        self, origin: httpcore.Origin, closing: list[httpcore.ConnectionInterface]
    ) -> httpcore.ConnectionInterface | None:
        """The first live connection to ``origin`` free for a request; ones found
        expired on the way (keep-alive over, or closed by the server) are closed."""
        for connection in list(self._connections):
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            if connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None


class PooledTransport(httpx.HTTPTransport):
    """httpx's transport on :class:`LinearConnectionPool` (same TLS context and limits;
    ``network_backend``: how connections are opened, e.g. the network guard's)."""

    def __init__(self, network_backend: Any = None, **options: Any) -> None:
        super().__init__(**options)
        pool = self._pool
        self._pool = LinearConnectionPool(
            ssl_context=pool._ssl_context,
            max_connections=pool._max_connections,
            max_keepalive_connections=pool._max_keepalive_connections,
            keepalive_expiry=pool._keepalive_expiry,
            network_backend=network_backend,
        )


LIMITS = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)


def pooled_client(timeout: float) -> httpx.Client:
    """An httpx client for a provider SDK (``http_client=``): the SDKs' own defaults
    (redirects followed) on the linear pool."""
    return httpx.Client(
        transport=PooledTransport(limits=LIMITS, retries=0),
        timeout=httpx.Timeout(timeout, connect=5.0),
        follow_redirects=True,
    )
