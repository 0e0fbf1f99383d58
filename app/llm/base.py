"""The provider interface every LLM adapter implements.

Adapters turn a provider-neutral conversation into the provider's API call and map
every provider failure onto :class:`ProviderError`, so the chat endpoint can answer
with a fitting status code and never leak a traceback or a provider's raw error.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatTurn:
    """One message of a conversation, already merged and validated."""

    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """Everything a provider needs for one completion."""

    model: str
    messages: list[ChatTurn]
    system_prompt: str = ""
    temperature: float = 0.7
    max_tokens: int = 1024


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    content: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"


@dataclass
class StreamChunk:
    """A piece of a streamed reply; the last chunk carries usage and finish_reason."""

    delta: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class ProviderError(Exception):
    """A provider failed. ``status`` is what the chat endpoint answers with.

    502 for a provider error or unreachable provider, 504 for a timeout, 429 when the
    provider rate-limits us, 503 when the provider is not configured.
    """

    def __init__(self, code: str, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def not_configured(cls, provider: str, setting: str) -> ProviderError:
        """The provider lacks credentials: a 503 that names the setting to fix."""
        return cls(
            "provider_not_configured",
            f"the {provider} provider has no API key (set {setting})",
            503,
        )


def call_timeout(configured: float, left: float | None) -> float:
    """One provider call's timeout: what is left of the request's deadline (the client's,
    which may be longer or shorter than the platform's), else the provider's own."""
    return configured if left is None else max(0.001, left)


class ChatProvider(Protocol):
    """What the chat endpoint calls; one instance per provider name. ``timeout``: the
    seconds left of the request's deadline (the provider's own setting when None); a
    stream closed early (``close()``) closes its upstream request."""

    name: str

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion: ...

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]: ...
