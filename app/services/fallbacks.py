"""One model call, with a client's fallbacks: on a timeout, a 429, a 5xx or an
unreachable provider the next model is tried, within the request's deadline. A stream
falls back only before its first chunk went out (after that the caller has text).

While fallbacks are left, a model gets its share of what is left of the deadline (what
is left divided by the models left), so one that hangs leaves time for the next; one
that fails fast leaves its share to the others.

The model that answers becomes the turn's ``provider``/``model`` (``PreparedChat``), so
its usage is counted for it and the answer names it (``model``, ``X-Chatdock-Model``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace

from app import secret_box
from app.config import current_settings
from app.llm.base import ChatProvider, ChatRequest, Completion, ProviderError, StreamChunk
from app.llm.registry import Endpoint, connection_provider, get_provider
from app.metrics import FALLBACKS, PROVIDER_ERRORS
from app.netguard import allowed_networks
from app.services.chat_settings import ChatSettings
from app.services.chat_turns import PreparedChat
from app.services.provider_connections import ConnectionTarget, targets_by_name

Target = tuple[str, str, ConnectionTarget | None]  # provider, model, connection

REASONS = {
    "provider_timeout": "timeout",
    "provider_rate_limited": "rate_limited",
    "provider_unreachable": "unreachable",
}


def resolve(client: ChatSettings) -> tuple[Target, ...]:
    """The client's fallbacks with their connections (one query, only when one names a
    connection); a connection deleted since is skipped."""
    names = {
        str(f["provider_connection"]) for f in client.fallbacks if f.get("provider_connection")
    }
    connections = targets_by_name(client.account_id, names)
    found: list[Target] = []
    for fallback in client.fallbacks:
        name = fallback.get("provider_connection")
        connection = connections.get(name) if name else None
        if name and connection is None:
            continue
        found.append((str(fallback["provider"]), str(fallback["model"]), connection))
    return tuple(found)


def reason(error: ProviderError) -> str | None:
    """Why to try the next model (the metric's label), or None: a failure the next model
    would meet too (bad request, credentials) is the caller's answer."""
    if error.code in REASONS:
        return REASONS[error.code]
    if error.code == "provider_error" and (error.upstream_status or 0) >= 500:
        return "server_error"
    return None


def provider_for(provider: str, connection: ConnectionTarget | None) -> ChatProvider:
    settings = current_settings()
    if connection is None:
        return get_provider(provider, settings)
    endpoint = Endpoint(
        connection.id,
        connection.version,
        connection.type,
        connection.base_url,
        connection.sealed_key,
    )
    return connection_provider(
        endpoint, lambda: _unseal(connection.sealed_key), settings, allowed_networks(settings)
    )


def _unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return secret_box.unseal(sealed)
    except secret_box.SecretUnavailable:
        raise ProviderError(
            "provider_not_configured",
            "the provider connection's key cannot be decrypted (SECRETS_ENCRYPTION_KEYS)",
            503,
        ) from None


def _chain(prepared: PreparedChat) -> list[Target]:
    return [(prepared.provider, prepared.model, prepared.connection), *prepared.fallbacks]


def _switch(prepared: PreparedChat, target: Target) -> None:
    prepared.provider, model, prepared.connection = target
    if model != prepared.request.model:
        prepared.request = replace(prepared.request, model=model)


def _share(prepared: PreparedChat, left: int) -> float:
    """The seconds this attempt may take: its share of the rest of the deadline."""
    return prepared.remaining() / left


def _passes_on(prepared: PreparedChat, error: ProviderError, last: bool) -> bool:
    why = reason(error)
    if last or why is None or prepared.remaining() <= 0:
        return False  # the caller's answer: counted where the turn's failure is recorded
    PROVIDER_ERRORS.labels(provider=prepared.provider, code=error.code).inc()
    FALLBACKS.labels(reason=why).inc()
    return True


class FallbackChain:
    """The client's model and its fallbacks as one provider: a call tries the model in
    use, then the next ones; the model that answers stays in use for the rest of the
    turn, so the rounds of a tool loop (``app.tools.loop``) all go to it."""

    name = "fallbacks"

    def __init__(self, prepared: PreparedChat) -> None:
        self.prepared = prepared
        self.chain = _chain(prepared)
        self.current = 0

    def _attempts(self, request: ChatRequest) -> Iterator[tuple[int, ChatProvider, ChatRequest]]:
        for index in range(self.current, len(self.chain)):
            _switch(self.prepared, self.chain[index])
            provider = provider_for(self.prepared.provider, self.prepared.connection)
            yield index, provider, replace(request, model=self.prepared.request.model)

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        """The first model of the chain (from the one in use) that answers."""
        for index, provider, asked in self._attempts(request):
            try:
                answer = provider.complete(asked, timeout=self._share(index))
            except ProviderError as error:
                if not _passes_on(self.prepared, error, index == len(self.chain) - 1):
                    raise
                continue
            self.current = index
            return answer
        raise AssertionError("unreachable: the chain is never empty")

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]:
        """The chunks of the first model that starts answering; closing this closes it."""
        for index, provider, asked in self._attempts(request):
            try:
                chunks = provider.stream(asked, timeout=self._share(index))
                first = next(chunks, None)
            except ProviderError as error:
                if not _passes_on(self.prepared, error, index == len(self.chain) - 1):
                    raise
                continue
            self.current = index
            try:
                if first is not None:
                    yield first
                    yield from chunks
            finally:
                chunks.close()
            return

    def _share(self, index: int) -> float:
        return _share(self.prepared, len(self.chain) - index)
