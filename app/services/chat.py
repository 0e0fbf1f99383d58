"""One chat turn: merge the conversation, call the provider, persist the session.

Merge rule (documented in the README):

1. With a ``session_key`` whose session has stored turns, the stored turns are the
   history (the server is authoritative) and ``prompt_history`` is ignored.
2. Otherwise ``prompt_history`` is the history, in the order given: ``outgoing`` items
   become ``user`` turns and ``incoming`` items ``assistant`` turns.
3. Where the end of the history repeats the start of ``messages`` (a UI that sends the
   newest message in both), the repeated turns are taken once.
4. The conversation is history + ``messages`` and must end with a ``user`` turn; the
   client's system prompt goes first.

Nothing is written when the provider fails: the same request can simply be retried.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import insert, select

from app.config import current_settings
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.hosts import ClientRoute
from app.llm.base import ChatRequest, ChatTurn, Completion, ProviderError, StreamChunk, Usage
from app.llm.registry import get_provider
from app.metrics import PROVIDER_ERRORS, TOKENS
from app.models import ApiKey, ChatMessage, ChatSession, LlmClient
from app.models.common import utcnow
from app.services.llm_models import deprecation_warning


@dataclass
class PreparedChat:
    """A validated turn, ready for the provider, and what to persist after it."""

    client_id: int
    client_name: str
    provider: str
    session_id: int | None  # None: a new session is created when the reply is stored
    session_key: str
    new_turns: list[ChatTurn]
    request: ChatRequest
    api_key_id: int | None
    model_warning: str | None = None  # the client's model is deprecated: what to use

    @property
    def model(self) -> str:
        return self.request.model


def new_session_key() -> str:
    return secrets.token_urlsafe(24)


def _overlap(history: list[ChatTurn], messages: list[ChatTurn]) -> int:
    """Length of the longest tail of ``history`` equal to a head of ``messages``."""
    for size in range(min(len(history), len(messages)), 0, -1):
        if history[-size:] == messages[:size]:
            return size
    return 0


def load_client(route: ClientRoute) -> LlmClient:
    client = db.session.get(LlmClient, route.client_id)
    if client is None:
        raise NotFound("this client no longer exists", code="client_not_found")
    return client


def prepare_chat(
    route: ClientRoute,
    messages: list[ChatTurn],
    prompt_history: list[ChatTurn],
    session_key: str | None,
    api_key: ApiKey | None,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> PreparedChat:
    settings = current_settings()
    if len(messages) + len(prompt_history) > settings.CHAT_MAX_MESSAGES:
        raise InvalidInput(
            f"too many messages: at most {settings.CHAT_MAX_MESSAGES} in messages and "
            "prompt_history together",
            code="too_many_messages",
        )
    longest = max(len(turn.content) for turn in [*messages, *prompt_history])
    if longest > settings.CHAT_MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"a message is {longest} characters long; the limit is "
            f"{settings.CHAT_MAX_MESSAGE_CHARS}",
            code="message_too_long",
        )
    client = load_client(route)
    session = None
    history = prompt_history
    if session_key:
        session = db.session.execute(
            select(ChatSession).where(
                ChatSession.session_key == session_key, ChatSession.client_id == client.id
            )
        ).scalar_one_or_none()
        if session is None:
            raise NotFound(
                "unknown session_key for this client; omit it to start a new session",
                code="session_not_found",
            )
        stored = db.session.execute(
            select(ChatMessage.role, ChatMessage.content)
            .where(ChatMessage.session_id == session.id)
            .order_by(ChatMessage.id.desc())
            .limit(settings.CHAT_HISTORY_TURNS)
        ).all()
        if stored:
            history = [ChatTurn(role=r, content=c) for r, c in reversed(stored)]
    overlap = _overlap(history, messages)
    if overlap:
        history = history[:-overlap]
    if messages[-1].role != "user":
        raise InvalidInput("the last message must have role 'user'", code="invalid_messages")
    new_turns = messages if session is not None else [*history, *messages]
    request = ChatRequest(
        model=client.model,
        messages=[*history, *messages],
        system_prompt=client.system_prompt,
        temperature=client.temperature if temperature is None else temperature,
        max_tokens=min(client.max_tokens, max_tokens) if max_tokens else client.max_tokens,
    )
    # Plain values, not ORM objects: the commit in persist() must not trigger reloads.
    return PreparedChat(
        client_id=client.id,
        client_name=client.name,
        provider=client.provider,
        session_id=session.id if session is not None else None,
        session_key=session_key or new_session_key(),
        new_turns=new_turns,
        request=request,
        api_key_id=api_key.id if api_key else None,
        model_warning=deprecation_warning(client.llm_model),
    )


def _record_error(provider: str, error: ProviderError) -> None:
    PROVIDER_ERRORS.labels(provider=provider, code=error.code).inc()


def complete(prepared: PreparedChat) -> tuple[Completion, int]:
    """Call the provider; persist and return (completion, latency in ms)."""
    provider = get_provider(prepared.provider, current_settings())
    started = time.perf_counter()
    try:
        completion = provider.complete(prepared.request)
    except ProviderError as error:
        _record_error(prepared.provider, error)
        raise
    latency_ms = int((time.perf_counter() - started) * 1000)
    persist(prepared, completion.content, completion.usage, latency_ms)
    return completion, latency_ms


def stream(prepared: PreparedChat) -> Iterator[StreamChunk]:
    """Yield the provider's chunks; persist once the last one arrived."""
    provider = get_provider(prepared.provider, current_settings())
    started = time.perf_counter()
    parts: list[str] = []
    usage = Usage()
    try:
        for chunk in provider.stream(prepared.request):
            parts.append(chunk.delta)
            if chunk.usage is not None:
                usage = chunk.usage
            yield chunk
    except ProviderError as error:
        _record_error(prepared.provider, error)
        raise
    persist(prepared, "".join(parts), usage, int((time.perf_counter() - started) * 1000))


def persist(prepared: PreparedChat, reply: str, usage: Usage, latency_ms: int) -> None:
    """Store the new turns and the reply in one transaction, with Core inserts: this is
    the hot path of every chat request, and no ORM object is needed afterwards."""
    connection = db.session.connection()
    session_id = prepared.session_id
    if session_id is None:
        session_id = connection.execute(
            insert(ChatSession.__table__)
            .values(
                client_id=prepared.client_id,
                session_key=prepared.session_key,
                api_key_id=prepared.api_key_id,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .returning(ChatSession.__table__.c.id)
        ).scalar_one()
    rows = [
        {"session_id": session_id, "role": turn.role, "content": turn.content}
        for turn in prepared.new_turns
    ]
    rows.append(
        {
            "session_id": session_id,
            "role": "assistant",
            "content": reply,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "latency_ms": latency_ms,
        }
    )
    now = utcnow()
    connection.execute(
        insert(ChatMessage.__table__),
        [
            {"prompt_tokens": None, "completion_tokens": None, "latency_ms": None}
            | row
            | {"created_at": now}
            for row in rows
        ],
    )
    db.session.commit()
    TOKENS.labels(provider=prepared.provider, kind="prompt").inc(usage.prompt_tokens)
    TOKENS.labels(provider=prepared.provider, kind="completion").inc(usage.completion_tokens)
