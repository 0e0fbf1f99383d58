"""One chat turn: merge the conversation, reserve its tokens, call the provider with no
database connection held, store the turn.

The shape of every turn, plain or streamed: read what the chat needs (the client, the
session's stored turns) and admit it against the limits, then give the database
connection back (:func:`release_database`) before the provider is called, so a model that
takes 30 s holds no connection and no transaction; the turn is written afterwards in one
short transaction (:mod:`app.services.chat_turns`). How ``messages`` and
``prompt_history`` merge is :data:`MERGE_RULE`, the text docs/chat-api.md and the
OpenAPI document give callers. A failed provider call stores no turn; a stream that ends
early (its caller went away, the deadline passed, the provider failed mid-way) stores and
charges what was produced, once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from typing import cast

from sqlalchemy import select

from app.config import current_settings
from app.errors import InvalidInput, NotFound
from app.extensions import autocommit_reads, db, in_transaction
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
from app.llm.tokens import estimate_prompt_tokens, estimate_text_tokens
from app.metrics import CHAT_OVERHEAD
from app.models import ApiKey, ChatMessage, ChatSession
from app.services import chat_tools, chat_turns, fallbacks, limits, publish, usage
from app.services.chat_settings import ChatSettings, ChatSettingsCache, load_chat_settings
from app.services.chat_turns import PreparedChat
from app.tools import loop as tool_loop

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


def new_session_key() -> str:
    return secrets.token_urlsafe(24)


def _overlap(history: list[ChatTurn], messages: list[ChatTurn]) -> int:
    """Length of the longest tail of ``history`` equal to a head of ``messages``."""
    for size in range(min(len(history), len(messages)), 0, -1):
        if history[-size:] == messages[:size]:
            return size
    return 0


def load_client(
    route: ClientRoute, cache: ChatSettingsCache | None = None, index_version: int = 0
) -> ChatSettings:
    """The route's client's chat settings (kept in ``cache`` when it can, for a request
    routed on the host index of ``index_version``); 404 when it no longer exists."""
    if cache is None:
        client = load_chat_settings(route.client_id)
    else:
        client = cache.load(route.client_id, index_version)
    if client is None:
        raise NotFound("this client no longer exists", code="client_not_found")
    return client


def prepare_chat(
    client: ChatSettings,
    messages: list[ChatTurn],
    prompt_history: list[ChatTurn],
    session_key: str | None,
    api_key: ApiKey | None,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    received: float | None = None,
    visitor: publish.Visitor = publish.ANONYMOUS,
) -> PreparedChat:
    """Validate and merge the turn for ``client`` (:func:`load_client`), reserve its
    tokens (or refuse it: 429), and give the database connection back. ``received``:
    ``time.perf_counter()`` when the request arrived (what chatdock's overhead is
    measured from). ``visitor``: the browser's origin and identified user (usage,
    limits and sessions are theirs)."""
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
    publish.check_visitor(client, visitor, api_key is not None)
    if session_key or client.has_plugins or client.fallbacks:
        autocommit_reads()  # reads below (the session, plugins, connections)
    session = None
    history = prompt_history
    if session_key:
        session = db.session.execute(
            select(ChatSession).where(
                ChatSession.session_key == session_key,
                ChatSession.client_id == client.id,
                ChatSession.end_user == visitor.end_user
                if visitor.end_user is not None
                else ChatSession.end_user.is_(None),
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
    conversation = [*history, *messages]
    max_tokens = min(client.max_tokens, max_tokens) if max_tokens else client.max_tokens
    prompt_estimate = estimate_prompt_tokens(
        [client.system_prompt, *(turn.content for turn in conversation)]
    )
    key = limits.KeyLimits.of(api_key) if api_key else None  # now: after the commit, a reload
    fallback_targets = fallbacks.resolve(client) if client.fallbacks else ()
    tools = chat_tools.toolset_for(client, messages[-1].content)
    api_key_id = key.id if key else None
    release_database()  # read all it needs: no transaction while Redis or the model answer
    try:
        admission = limits.admit(client, key, prompt_estimate, max_tokens, visitor.end_user)
    except limits.LimitReached as refusal:  # counted in the usage table, then answered
        usage.record_refusal(
            account_id=client.account_id,
            client_id=client.id,
            client_name=client.name,
            api_key_id=api_key_id,
            model=client.model,
            budget=refusal.code == "budget_exhausted",
            origin=visitor.origin,
            end_user=visitor.end_user,
        )
        raise
    if admission is not None:  # the reservation may leave room for a shorter answer only
        max_tokens = max(1, min(max_tokens, admission.reserved - prompt_estimate))
    request = ChatRequest(
        model=client.model,
        messages=conversation,
        system_prompt=client.system_prompt,
        temperature=client.temperature if temperature is None else temperature,
        max_tokens=max_tokens,
    )
    prepared = PreparedChat(
        client_id=client.id,
        client_name=client.name,
        account_id=client.account_id,
        provider=client.provider,
        session_id=session.id if session is not None else None,
        session_key=session_key or new_session_key(),
        new_turns=new_turns,
        request=request,
        api_key_id=api_key_id,
        prompt_estimate=prompt_estimate,
        deadline_seconds=(seconds := client.timeout_seconds or settings.LLM_TIMEOUT_SECONDS),
        deadline=time.monotonic() + seconds,
        received=received if received is not None else time.perf_counter(),
        model_warning=client.model_warning,
        limits=admission,
        connection=client.connection,
        fallbacks=fallback_targets,
        tools=tools,
        origin=visitor.origin,
        end_user=visitor.end_user,
    )
    release_database()
    return prepared


def release_database() -> None:
    """End the request's transaction and give its connection back to the pool: nothing
    may hold one while a provider answers (the turn is written in a new, short one).
    Nothing is pending here; a commit (rather than ``close``) leaves the session's
    objects attached, expired, for the rest of the request. Nothing to end when no
    statement ran since (the common case at the second call): the check is cheaper."""
    if in_transaction():
        db.session.commit()


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _timed_out(prepared: PreparedChat) -> ProviderError:
    return ProviderError(
        "provider_timeout",
        f"the model did not finish within the deadline ({prepared.deadline_seconds:g}s)",
        504,
    )


def _observe_overhead(prepared: PreparedChat, route: str) -> None:
    """chatdock's own share of the request: all of it but the provider's."""
    total = time.perf_counter() - prepared.received
    CHAT_OVERHEAD.labels(route=route).observe(max(0.0, total - prepared.provider_seconds))


def complete(prepared: PreparedChat, route: str = "chat") -> tuple[Completion, int]:
    """Call the provider (then the client's fallbacks) within the deadline; store the
    turn; (completion, latency ms). With tools, every round goes to the model that
    answered the first."""
    provider = fallbacks.FallbackChain(prepared)
    started = time.perf_counter()
    try:
        if prepared.tools is not None:
            completion = tool_loop.complete(
                provider, prepared.request, prepared.tools, prepared.remaining
            )
        else:
            completion = provider.complete(prepared.request, timeout=prepared.remaining())
    except ProviderError as error:
        error = _timed_out(prepared) if error.code == "provider_timeout" else error
        prepared.provider_seconds = time.perf_counter() - started
        chat_turns.record_error(prepared, error, _elapsed_ms(started))
        raise error
    prepared.provider_seconds = time.perf_counter() - started
    latency_ms = _elapsed_ms(started)
    chat_turns.persist(prepared, completion.content, completion.usage, latency_ms)
    _observe_overhead(prepared, route)
    return completion, latency_ms


def stream(prepared: PreparedChat, route: str = "chat") -> Generator[StreamChunk, None, None]:
    """Yield the provider's chunks within the deadline and store the turn once it ends.

    However it ends — the last chunk, the caller gone (``GeneratorExit``: the upstream
    request is closed too), the deadline, a provider failure after some text — what was
    produced is stored and charged, once: the provider's usage when it sent one, else
    the prompt as admitted plus an estimate of the text produced."""
    provider = fallbacks.FallbackChain(prepared)  # falls back until the first chunk
    started = time.perf_counter()
    parts: list[str] = []
    tokens: Usage | None = None
    chunks = (
        tool_loop.stream(provider, prepared.request, prepared.tools, prepared.remaining)
        if prepared.tools is not None
        else provider.stream(prepared.request, timeout=prepared.remaining())
    )
    try:
        for chunk in chunks:
            parts.append(chunk.delta)
            if chunk.usage is not None:
                tokens = chunk.usage
            if time.monotonic() > prepared.deadline and chunk.usage is None:
                raise _timed_out(prepared)
            yield chunk
    except ProviderError as error:
        error = _timed_out(prepared) if error.code == "provider_timeout" else error
        if not parts:
            prepared.provider_seconds = time.perf_counter() - started
            chat_turns.record_error(prepared, error, _elapsed_ms(started))
        raise error
    finally:
        chunks.close()  # a caller gone mid-stream cancels the upstream request
        prepared.provider_seconds = time.perf_counter() - started
        if not prepared.stored:
            reply = "".join(parts)
            if tokens is None:  # cut short: estimate this round, count the loop's earlier ones
                tokens = Usage(prepared.prompt_estimate, estimate_text_tokens(reply))
                if prepared.tools is not None:
                    tokens.prompt_tokens += prepared.tools.usage.prompt_tokens
                    tokens.completion_tokens += prepared.tools.usage.completion_tokens
            chat_turns.persist(prepared, reply, tokens, _elapsed_ms(started))
            _observe_overhead(prepared, route)
