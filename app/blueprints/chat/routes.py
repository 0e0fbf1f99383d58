"""Chat endpoints. Thin: resolve the client, check origin and key, validate, call the
chat service, shape the answer (JSON, SSE, or OpenAI's format)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request, stream_with_context
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from app.blueprints.chat import bp
from app.blueprints.chat.cors import add_cors_headers, check_origin, preflight
from app.blueprints.chat.schemas import (
    AssistantMessage,
    ChatBody,
    ChatCompletion,
    ChatCompletionChunk,
    ChatReply,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    OpenAIChatBody,
    StreamDelta,
    StreamDone,
    StreamSession,
)
from app.blueprints.chat.schemas import Usage as UsageOut
from app.config import current_settings
from app.errors import InvalidInput, NotFound
from app.extensions import db, limiter
from app.hosts import ClientRoute, normalize_host
from app.llm.base import ChatTurn, ProviderError, Role, StreamChunk, Usage
from app.logging_setup import get_logger
from app.models import ApiKey
from app.request_hooks import resolver
from app.services import api_keys, chat

HISTORY_ROLES: dict[str, Role] = {"outgoing": "user", "incoming": "assistant"}
CHAT_METHODS = ["POST", "OPTIONS"]
Schema = TypeVar("Schema", bound=BaseModel)
log = get_logger("chatdock.chat")


def _served(route: ClientRoute | None) -> ClientRoute:
    if route is None:
        raise NotFound("no client is served here", code="client_not_found")
    if not route.deployed:
        raise NotFound(f"client {route.name!r} is not deployed", code="client_not_deployed")
    return route


def _route_from_host() -> ClientRoute:
    return _served(g.get("host_route"))


def _route_from_path(client_id: int, name: str) -> ClientRoute:
    """/api/v0 paths answer on platform hosts and on the client's own hosts: never on
    another client's host (another tenant's domain must not serve this client)."""
    route = g.host_index.by_id.get(client_id)
    on_host = g.get("host_route")
    if (
        route is None
        or route.name != name.lower()
        or (on_host and on_host.client_id != route.client_id)
    ):
        raise NotFound(f"no client {client_id}/{name}", code="client_not_found")
    return _served(route)


def _presented_key() -> str | None:
    key = request.headers.get("X-Api-Key")
    if key:
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def read_body() -> bytes:
    """The raw body, refused with 413 past MAX_CONTENT_LENGTH, chunked bodies included.

    Without a Content-Length, werkzeug's stream stops quietly at the limit (the body
    looks merely truncated), so read one byte past it to tell "too large" apart."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        return request.get_data(cache=False)  # a declared length over the limit is a 413
    data = get_input_stream(request.environ, max_content_length=limit + 1).read()
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def parse_body(schema: type[Schema]) -> Schema:
    """Validate the raw body; invalid JSON and wrong shapes are one clear 400."""
    data = read_body()
    if not data:
        raise InvalidInput("the request body must be a JSON object", code="invalid_json")
    try:
        return schema.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise InvalidInput("the request body is not valid JSON", code="invalid_json") from None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in errors
        )
        raise InvalidInput(problems, details=errors) from None


def _sse(event: str | None, payload: BaseModel | dict | str) -> str:
    """One event; a model's data is its fields set (an OpenAI chunk's empty delta: ``{}``)."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_unset=True)
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


def _usage(usage: Usage | None) -> UsageOut:
    """The token counts of an answer (zeros when the provider reported none)."""
    return UsageOut(
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_tokens=usage.total_tokens if usage else 0,
    )


def _answer(model: BaseModel) -> Response:
    return jsonify(model.model_dump(mode="json"))


def _primed(chunks: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    """Start the provider stream before answering, so an early provider failure (bad
    credentials, unreachable) is a real error status rather than a 200 stream."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())

    def rest() -> Iterator[StreamChunk]:
        yield first
        yield from chunks

    return rest()


def _event_stream(body: Callable[[], Iterable[str]]) -> Response:
    def guarded() -> Iterator[str]:
        try:
            yield from body()
        except ProviderError as error:
            yield _sse("error", {"error": {"code": error.code, "message": error.message}})
        except Exception as error:  # the 200 has been sent: end the stream with an event
            db.session.rollback()
            log.exception("stream_failed", error_type=type(error).__name__)
            message = f"internal error (request id {g.get('request_id', '-')})"
            yield _sse("error", {"error": {"code": "internal_error", "message": message}})

    response = Response(stream_with_context(guarded()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _authorized(route: ClientRoute) -> ApiKey | None:
    check_origin(route)
    return api_keys.authenticate(_presented_key(), route)


def _rate_limit() -> str:
    return current_settings().CHAT_RATE_LIMIT


def _rate_key() -> str:
    """One bucket per client and caller, whatever the path or host that reached it: the
    client's id (from the /api/v0 path, else from the host index) and the address.
    This runs before the Host check, so it resolves the host itself."""
    client = (request.view_args or {}).get("client_id")
    if client is None:
        route = resolver().lookup_host(db.session, request.host)
        client = route.client_id if route else f"host:{normalize_host(request.host)}"
    return f"chat:{client}:{request.remote_addr}"


# One shared scope: every chat endpoint draws on the same bucket of a key.
rate_limited = limiter.shared_limit(_rate_limit, scope="chat", key_func=_rate_key, methods=["POST"])


# --- the native contract -------------------------------------------------------------


def _chat(route: ClientRoute) -> Response:
    if request.method == "OPTIONS":
        return preflight(route)
    api_key = _authorized(route)
    body = parse_body(ChatBody)
    prepared = chat.prepare_chat(
        route,
        messages=[ChatTurn(role=m.role, content=m.content) for m in body.messages],
        prompt_history=[
            ChatTurn(role=HISTORY_ROLES[h.direction], content=h.message)
            for h in body.prompt_history
        ],
        session_key=body.session_key,
        api_key=api_key,
    )
    if body.stream:
        return _with_model_warning(prepared, stream_reply(prepared))
    completion, latency_ms = chat.complete(prepared)
    response = _answer(
        ChatReply(
            session_key=prepared.session_key,
            client=prepared.client_name,
            model=completion.model or prepared.model,
            message=AssistantMessage(content=completion.content),
            reply=completion.content,
            finish_reason=completion.finish_reason,
            usage=_usage(completion.usage),
            latency_ms=latency_ms,
        )
    )
    return _with_model_warning(prepared, response)


def _with_model_warning(prepared: chat.PreparedChat, response: Response) -> Response:
    """Clients on a deprecated model keep working; every answer says what to use instead
    (``X-Chatdock-Warning`` for people and browsers, RFC 7234's ``Warning`` for tools)."""
    if prepared.model_warning:
        response.headers["X-Chatdock-Warning"] = prepared.model_warning
        response.headers["Warning"] = f'299 - "{prepared.model_warning}"'
    return response


def stream_reply(prepared: chat.PreparedChat) -> Response:
    """The native contract's SSE stream (also the console sandbox's)."""
    started = time.perf_counter()
    chunks = _primed(chat.stream(prepared))
    head = StreamSession(
        session_key=prepared.session_key, client=prepared.client_name, model=prepared.model
    )

    def events() -> Iterator[str]:
        yield _sse("session", head)
        parts, usage, finish = [], None, "stop"
        for chunk in chunks:
            if chunk.delta:
                parts.append(chunk.delta)
                yield _sse(None, StreamDelta(delta=chunk.delta))
            usage = chunk.usage or usage
            finish = chunk.finish_reason or finish
        yield _sse(
            "done",
            StreamDone(
                reply="".join(parts),
                finish_reason=finish,
                usage=_usage(usage),
                latency_ms=int((time.perf_counter() - started) * 1000),
            ),
        )

    return _event_stream(events)


# --- OpenAI-compatible ---------------------------------------------------------------

# OpenAI's "developer" messages are system messages.
OPENAI_ROLES: dict[str, Role] = {
    "developer": "system",
    "system": "system",
    "user": "user",
    "assistant": "assistant",
}


def _openai_chat(route: ClientRoute) -> Response:
    if request.method == "OPTIONS":
        return preflight(route)
    api_key = _authorized(route)
    body = parse_body(OpenAIChatBody)
    prepared = chat.prepare_chat(
        route,
        messages=[ChatTurn(role=OPENAI_ROLES[m.role], content=m.text()) for m in body.messages],
        prompt_history=[],
        session_key=None,
        api_key=api_key,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = prepared.model
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _stream_openai(prepared, completion_id, created, model, include_usage)
        return _with_model_warning(prepared, stream)
    completion, _ = chat.complete(prepared)
    choice = CompletionChoice(
        index=0,
        message=AssistantMessage(content=completion.content),
        finish_reason=completion.finish_reason,
    )
    response = _answer(
        ChatCompletion(
            id=completion_id,
            object="chat.completion",
            created=created,
            model=model,
            choices=[choice],
            usage=_usage(completion.usage),
        )
    )
    return _with_model_warning(prepared, response)


def _stream_openai(
    prepared: chat.PreparedChat, completion_id: str, created: int, model: str, include_usage: bool
) -> Response:
    chunks = _primed(chat.stream(prepared))

    def chunk(delta: ChunkDelta, finish: str | None, usage: Usage | None = None) -> str:
        """A chunk with one choice, or none (the extra last chunk carrying ``usage``)."""
        sent = delta.model_fields_set or finish
        payload = ChatCompletionChunk(
            id=completion_id,
            object="chat.completion.chunk",
            created=created,
            model=model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)] if sent else [],
        )
        if usage is not None:
            payload.usage = _usage(usage)
        return _sse(None, payload)

    def events() -> Iterator[str]:
        yield chunk(ChunkDelta(role="assistant", content=""), None)
        usage, finish = None, "stop"
        for piece in chunks:
            if piece.delta:
                yield chunk(ChunkDelta(content=piece.delta), None)
            usage = piece.usage or usage
            finish = piece.finish_reason or finish
        yield chunk(ChunkDelta(), finish)
        if include_usage and usage is not None:
            yield chunk(ChunkDelta(), None, usage)
        yield _sse(None, "[DONE]")

    return _event_stream(events)


def _register(
    name: str, host_rule: str, path_suffix: str, handler: Callable[[ClientRoute], Response]
) -> None:
    """Serve ``handler`` on client hosts at ``host_rule`` and, on any platform host, at
    ``/api/v0/llm-clients/<id>/<name>/`` + ``path_suffix``; both rate limited."""

    def on_client_host() -> Response:
        return handler(_route_from_host())

    def by_path(client_id: int, name: str) -> Response:
        return handler(_route_from_path(client_id, name))

    options: dict[str, Any] = {"methods": CHAT_METHODS, "provide_automatic_options": False}
    bp.add_url_rule(host_rule, f"{name}_on_client_host", rate_limited(on_client_host), **options)
    bp.add_url_rule(
        f"/api/v0/llm-clients/<int:client_id>/<name>/{path_suffix}",
        f"{name}_by_path",
        rate_limited(by_path),
        **options,
    )


_register("chat", "/llm-client/", "", _chat)
_register("openai", "/v1/chat/completions", "v1/chat/completions", _openai_chat)

bp.after_request(add_cors_headers)
