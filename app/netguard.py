"""Where a customer's configuration or a model's tool call may send a request.

Tools, connections and provider base URLs are written by customers, and tool arguments by
a model: neither may make chatdock reach its own cluster, a private network or the cloud
metadata service (169.254.169.254). The rule is checked on the *resolved* address of every
connection, redirect hops included, and the connection is made to the address that was
checked (no second lookup a rebinding DNS server could answer differently). Addresses
inside ``TOOLS_ALLOWED_NETWORKS`` are let through: an operator's explicit exception.

Used by every layer that opens such a connection (tools, provider adapters, save-time
checks); it imports only the settings.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

from app.config import Settings, current_settings
from app.http_pool import PooledTransport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


class NetworkRefused(Exception):
    """A request would reach an address it may not. The message names the host, the
    address and why; it never holds a URL's credentials or query."""


def allowed_networks(settings: Settings | None = None) -> list[IPNetwork]:
    """The operator's exceptions (``TOOLS_ALLOWED_NETWORKS``)."""
    return list((settings or current_settings()).TOOLS_ALLOWED_NETWORKS)


def refusal_reason(address: IPAddress) -> str | None:
    """Why an address is not public (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_reason(address.ipv4_mapped)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared", address in _SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def check_address(
    address: str | IPAddress, allowed: Sequence[IPNetwork], host: str | None = None
) -> IPAddress:
    """The address, if a request may reach it; else :class:`NetworkRefused`."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip in network for network in allowed if network.version == ip.version):
        return ip
    reason = refusal_reason(ip)
    if reason is not None:
        name = f"{host} ({ip})" if host and host != str(ip) else str(ip)
        raise NetworkRefused(
            f"{name} is a {reason} address; tools and connections may reach only public "
            "addresses and TOOLS_ALLOWED_NETWORKS"
        )
    return ip


def resolve_checked(host: str, port: int, allowed: Sequence[IPNetwork]) -> list[str]:
    """Every address ``host`` resolves to, each checked; refused if any one is not allowed
    (a name that also points inside is not trusted for its public half)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise NetworkRefused(f"{host} does not resolve ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise NetworkRefused(f"{host} does not resolve")
    for address in addresses:
        check_address(address, allowed, host)
    return addresses


def check_url(url: str, allowed: Sequence[IPNetwork]) -> None:
    """A base URL as saved: http(s), a host, and that host's addresses allowed now (each
    request checks again, since DNS may change)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise NetworkRefused(f"not a URL: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise NetworkRefused("the URL must be http:// or https:// with a host name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    resolve_checked(parsed.host, port, allowed)


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens each TCP connection to a checked address of the host (TLS still verifies
    and sends the host name: httpcore passes it to ``start_tls`` separately)."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        self._allowed = list(allowed)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in resolve_checked(host, port, self._allowed):
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                last_error = error
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}") from last_error

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CappedStream(httpx.SyncByteStream):
    """A response body cut at ``limit`` bytes; the rest is never read (the connection
    closes). ``truncated`` says whether anything was cut."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.truncated = False

    def __iter__(self) -> Iterator[bytes]:
        left = self._limit
        for chunk in self._inner:
            if len(chunk) > left:
                if left:
                    yield chunk[:left]
                self.truncated = True
                return
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _GuardedTransport(PooledTransport):
    """The provider pool's transport on the guarded backend, bodies capped when asked."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork],
        max_response_bytes: int | None,
        limits: httpx.Limits | None = None,
    ) -> None:
        options: dict[str, Any] = {"limits": limits} if limits is not None else {}
        super().__init__(network_backend=_GuardedBackend(allowed), retries=0, **options)
        self._max_response_bytes = max_response_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self._max_response_bytes is not None:
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _CappedStream(response.stream, self._max_response_bytes)
        return response


def guarded_http_client(
    allowed: Sequence[IPNetwork],
    *,
    timeout: float,
    max_response_bytes: int | None = None,
    follow_redirects: bool = False,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.Client:
    """An httpx client that reaches only allowed addresses (every hop of a redirect too),
    ignores proxy variables of the environment, and cuts bodies past
    ``max_response_bytes`` (see :func:`was_truncated`). A refused address raises
    :class:`NetworkRefused` from the request."""
    return httpx.Client(
        transport=_GuardedTransport(allowed, max_response_bytes, limits),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
        trust_env=False,
    )


def was_truncated(response: httpx.Response) -> bool:
    """Whether a guarded client cut this (read) response's body at its cap."""
    stream: Any = response.stream
    while stream is not None and not isinstance(stream, _CappedStream):
        stream = getattr(stream, "_stream", None)  # httpx wraps it (BoundSyncStream)
    return stream is not None and stream.truncated
