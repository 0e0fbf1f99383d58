"""One chat turn: merge the conversation, call the provider, persist the session.

How ``messages`` and ``prompt_history`` merge is :data:`MERGE_RULE`, the text
docs/chat-api.md and the OpenAPI document give callers. Nothing is written when the
provider fails.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from sqlalchemy import insert, select
from sqlalchemy.orm import joinedload

from app.config import current_settings
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.hosts import ClientRoute
from app.llm.base import (
    ChatRequest,
    ChatTurn,
    Completion,
    ProviderError,
    Role,
    StreamChunk,
    Usage,
)
from app.llm.registry import get_provider
from app.metrics import PROVIDER_ERRORS, TOKENS
from app.models import ApiKey, ChatMessage, ChatSession, LlmClient
from app.models.common import utcnow
from app.services import limits, usage
from app.services.llm_models import deprecation_warning

# The merge rule, for callers (Markdown): the OpenAPI document's chat descriptions quote it.
MERGE_RULE = """\
1. With a `session_key` whose session has stored turns, the stored turns are the
   history (the server is authoritative) and `prompt_history` is ignored.
2. Otherwise `prompt_history` is the history, in the order given: `outgoing` items
   become `user` turns and `incoming` items `assistant` turns.
3. Where the end of the history repeats the start of `messages` (a UI that sends the
   newest message in both), the repeated turns are taken once.
4. The conversation is history + `messages` and must end with a `user` turn; the
   client's system prompt goes first.

Nothing is written when the provider fails: the same request can simply be retried."""


@dataclass
class PreparedChat:
    """A validated turn, ready for the provider, and what to persist after it."""

    client_id: int
    client_name: str
    account_id: int
    provider: str
    session_id: int | None  # None: a new session is created when the reply is stored
    session_key: str
    new_turns: list[ChatTurn]
    request: ChatRequest
    api_key_id: int | None
    model_warning: str | None = None  # the client's model is deprecated: what to use
    limits: limits.Admission | None = None  # what to count in Redis once answered

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
    # The account too (its token budget is checked on every request): one query.
    client = db.session.get(LlmClient, route.client_id, options=[joinedload(LlmClient.account)])
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
            # The stored roles are those of validated ChatTurns (a plain string column).
            history = [ChatTurn(role=cast(Role, r), content=c) for r, c in reversed(stored)]
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
        account_id=client.account_id,
        provider=client.provider,
        session_id=session.id if session is not None else None,
        session_key=session_key or new_session_key(),
        new_turns=new_turns,
        request=request,
        api_key_id=api_key.id if api_key else None,
        model_warning=deprecation_warning(client.llm_model),
        limits=limits.admit(client, api_key),
    )


def _record_error(prepared: PreparedChat, error: ProviderError, latency_ms: int) -> None:
    """Count the failure (metrics and the usage aggregates); no turn is stored."""
    PROVIDER_ERRORS.labels(provider=prepared.provider, code=error.code).inc()
    usage.record(db.session.connection(), **_usage_key(prepared), latency_ms=latency_ms, error=True)
    db.session.commit()


def _usage_key(prepared: PreparedChat) -> dict:
    return {
        "account_id": prepared.account_id,
        "client_id": prepared.client_id,
        "client_name": prepared.client_name,
        "api_key_id": prepared.api_key_id,
        "model": prepared.model,
    }


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def complete(prepared: PreparedChat) -> tuple[Completion, int]:
    """Call the provider; persist and return (completion, latency in ms)."""
    provider = get_provider(prepared.provider, current_settings())
    started = time.perf_counter()
    try:
        completion = provider.complete(prepared.request)
    except ProviderError as error:
        _record_error(prepared, error, _elapsed_ms(started))
        raise
    latency_ms = _elapsed_ms(started)
    persist(prepared, completion.content, completion.usage, latency_ms)
    return completion, latency_ms


def stream(prepared: PreparedChat) -> Iterator[StreamChunk]:
    """Yield the provider's chunks; persist once the last one arrived."""
    provider = get_provider(prepared.provider, current_settings())
    started = time.perf_counter()
    parts: list[str] = []
    tokens = Usage()
    try:
        for chunk in provider.stream(prepared.request):
            parts.append(chunk.delta)
            if chunk.usage is not None:
                tokens = chunk.usage
            yield chunk
    except ProviderError as error:
        _record_error(prepared, error, _elapsed_ms(started))
        raise
    persist(prepared, "".join(parts), tokens, _elapsed_ms(started))


def persist(prepared: PreparedChat, reply: str, tokens: Usage, latency_ms: int) -> None:
    """Store the new turns, the reply and the usage aggregate in one transaction, with
    Core statements: this is the hot path of every chat request, and no ORM object is
    needed afterwards. The limits' counters in Redis follow once committed."""
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
            "prompt_tokens": tokens.prompt_tokens,
            "completion_tokens": tokens.completion_tokens,
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
    usage.record(
        connection,
        **_usage_key(prepared),
        prompt_tokens=tokens.prompt_tokens,
        completion_tokens=tokens.completion_tokens,
        latency_ms=latency_ms,
    )
    db.session.commit()
    if prepared.limits is not None:
        limits.settle(prepared.limits, tokens.total_tokens)
    TOKENS.labels(provider=prepared.provider, kind="prompt").inc(tokens.prompt_tokens)
    TOKENS.labels(provider=prepared.provider, kind="completion").inc(tokens.completion_tokens)
