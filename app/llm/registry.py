"""Provider lookup by name.

Providers are built once per (name, settings object) so each keeps its SDK client and
its HTTP connection pool across requests instead of reconnecting on every chat call.
The SDK adapters are imported only when their provider is first built: importing the
``openai`` and ``anthropic`` SDKs costs about a second, which every ``flask`` command
and process start would otherwise pay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from app.config import ProviderName
from app.llm.base import ChatProvider, ProviderError
from app.llm.echo import EchoProvider

if TYPE_CHECKING:
    from app.config import Settings
    from app.netguard import IPNetwork

PROVIDER_NAMES: tuple[str, ...] = get_args(ProviderName)

# Keyed by id(settings); the settings object is kept alongside so its id cannot be
# reused by another object while the entry lives. Bounded because tests create many.
_MAX_CACHED = 32
_cache: dict[tuple[str, int], tuple[Settings, ChatProvider]] = {}
_lock = threading.Lock()


def build_provider(name: str, settings: Settings) -> ChatProvider:
    """A new provider instance configured from ``settings`` (uncached)."""
    if name == "echo":
        return EchoProvider()
    if name not in ("openai", "anthropic"):
        raise ProviderError(
            "unknown_provider",
            f"unknown provider {name[:40]!r} (expected one of {', '.join(PROVIDER_NAMES)})",
            503,
        )
    from app.http_pool import pooled_client  # with the SDKs: httpcore only when needed

    timeout = settings.LLM_TIMEOUT_SECONDS
    if name == "openai":
        from app.llm.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            api_key=settings.OPENAI_API_KEY.get_secret_value(),
            base_url=settings.OPENAI_BASE_URL or None,
            timeout=timeout,
            http_client=pooled_client(timeout),
        )
    from app.llm.anthropic_provider import AnthropicProvider

    return AnthropicProvider(
        api_key=settings.ANTHROPIC_API_KEY.get_secret_value(),
        base_url=settings.ANTHROPIC_BASE_URL or None,
        timeout=timeout,
        http_client=pooled_client(timeout),
    )


def get_provider(name: str, settings: Settings) -> ChatProvider:
    """The shared provider called ``name`` for these settings."""
    key = (name, id(settings))
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is settings:
            return hit[1]
    provider = build_provider(name, settings)  # raises for unknown names: nothing cached
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is settings:
            return hit[1]
        while len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (settings, provider)
    return provider


@dataclass(frozen=True)
class Endpoint:
    """An account's own provider (a provider connection). Its adapter is built once per
    endpoint (and guard and timeout): a changed URL or key (``version``, and the sealed
    key, unique to each sealing) gets a new one, an unchanged one keeps its pool."""

    id: int
    version: int
    type: str  # openai | anthropic
    base_url: str
    sealed_key: str  # never the key itself: ``api_key`` unseals it when one is built


_MAX_CONNECTIONS = 256
_connections: dict[tuple[Endpoint, tuple[IPNetwork, ...], float], ChatProvider] = {}


def connection_provider(
    endpoint: Endpoint,
    api_key: Callable[[], str],
    settings: Settings,
    allowed: Sequence[IPNetwork],
) -> ChatProvider:
    """The adapter of a provider connection; ``api_key`` is called only to build one.
    Its HTTP client reaches only addresses the network guard allows (``allowed``)."""
    key = (endpoint, tuple(allowed), settings.LLM_TIMEOUT_SECONDS)
    with _lock:
        hit = _connections.get(key)
    if hit is not None:
        return hit
    provider = _build_connection(endpoint, api_key(), settings, allowed)
    with _lock:
        for stale in [k for k in _connections if k[0].id == endpoint.id and k != key]:
            del _connections[stale]
        while len(_connections) >= _MAX_CONNECTIONS:
            _connections.pop(next(iter(_connections)))
        return _connections.setdefault(key, provider)


def _build_connection(
    endpoint: Endpoint, api_key: str, settings: Settings, allowed: Sequence[IPNetwork]
) -> ChatProvider:
    from app.http_pool import LIMITS
    from app.netguard import guarded_http_client  # with the SDKs: httpcore only when needed

    timeout = settings.LLM_TIMEOUT_SECONDS
    http_client = guarded_http_client(allowed, timeout=timeout, limits=LIMITS)
    base_url = endpoint.base_url or None
    if endpoint.type == "openai":
        from app.llm.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(api_key, base_url, timeout, http_client)
    if endpoint.type == "anthropic":
        from app.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(api_key, base_url, timeout, http_client)
    raise ProviderError("unknown_provider", f"unknown connection type {endpoint.type!r}", 503)
