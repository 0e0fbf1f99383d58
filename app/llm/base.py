"""The provider interface every LLM adapter implements.

Adapters turn a provider-neutral conversation into the provider's API call and map
every provider failure onto :class:`ProviderError`, so the chat endpoint can answer
with a fitting status code and never leak a traceback or a provider's raw error.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatTurn:
    """One message of a conversation, already merged and validated."""

    role: Role
    content: str


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: its name, what it is for, its JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for; ``arguments`` is the JSON text it sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """What a call gave back to the model (an error is a result too, never a 5xx)."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class ToolRound:
    """One round of the tool loop: the model's text and calls, and their results. The
    adapters append the rounds after ``messages`` as the provider's own turn types."""

    text: str
    calls: tuple[ToolCall, ...]
    results: tuple[ToolResult, ...]


@dataclass(frozen=True)
class ChatRequest:
    """Everything a provider needs for one completion."""

    model: str
    messages: list[ChatTurn]
    system_prompt: str = ""
    temperature: float = 0.7
    max_tokens: int = 1024
    tools: tuple[ToolSpec, ...] = ()  # offered to the model; none: a plain completion
    rounds: tuple[ToolRound, ...] = ()  # the tool loop's turns so far


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
    tool_calls: list[ToolCall] = field(default_factory=list)  # finish_reason "tool_calls"


@dataclass
class StreamChunk:
    """A piece of a streamed reply; the last chunk carries usage and finish_reason (and
    the calls the model made, if any). ``tool_results``: the tool loop ran these calls
    (chunks of that kind come from the loop, never from an adapter)."""

    delta: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)


class ProviderError(Exception):
    """A provider failed. ``status`` is what the chat endpoint answers with.

    502 for a provider error or unreachable provider, 504 for a timeout, 429 when the
    provider rate-limits us, 503 when the provider is not configured.
    """

    def __init__(
        self, code: str, message: str, status: int = 502, upstream_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.upstream_status = upstream_status  # the provider's HTTP status, when it sent one

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
