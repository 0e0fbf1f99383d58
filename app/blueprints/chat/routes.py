"""Chat endpoints. Thin: resolve the client, check origin and key, validate, call the
chat service, shape the answer (JSON, SSE, or OpenAI's format)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from limits.strategies import FixedWindowRateLimiter
from pydantic import BaseModel

from app.blueprints.chat.blueprint import bp
from app.blueprints.chat.cors import add_cors_headers, check_origin, preflight
from app.blueprints.http import parse_body, sse_response
from app.errors import ChatdockError, NotFound
from app.hosts import ClientRoute, StaleHostIndex, normalize_origin
from app.llm.base import ChatTurn, Role, Usage
from app.models import ApiKey
from app.request_hooks import refresh_host_index
from app.schemas.chat import (
    AssistantMessage,
    ChatBody,
    ChatCompletion,
    ChatReply,
    CompletionChoice,
    OpenAIChatBody,
)
from app.schemas.chat import Usage as UsageOut
from app.services import api_keys, chat, chat_rate, chat_stream, publish
from app.services.chat_settings import CHAT_SETTINGS, ChatSettings, ChatSettingsCache

HISTORY_ROLES: dict[str, Role] = {"outgoing": "user", "incoming": "assistant"}
CHAT_METHODS = ["POST", "OPTIONS"]


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


def _settings(route: ClientRoute) -> ChatSettings:
    """The client's chat settings, and the check of the index the request was routed
    with: the settings carry the stamp they were read with (``g.host_index_verified``
    false: :data:`app.request_hooks.CHAT_API_ENDPOINTS`). Settings kept by the worker
    (:class:`~app.services.chat_settings.ChatSettingsCache`) are served only with the
    index's own stamp."""
    cache: ChatSettingsCache = current_app.extensions[CHAT_SETTINGS]
    client = chat.load_client(route, cache, g.host_index.version)
    if not g.host_index_verified:
        if client.routing_version != g.host_index.version:
            raise StaleHostIndex()
        g.host_index_verified = True
    return client


def _on_a_fresh_index(answer: Callable[[], Response]) -> Response:
    """Answer; route again once on a fresh index when the one the request was routed
    with turns out stale: its settings read says so, or a refusal made before that read
    (unknown client, not deployed, origin, key, limits, the body) meets a newer stamp."""
    try:
        return answer()
    except StaleHostIndex:
        refresh_host_index()
    except ChatdockError:
        if not refresh_host_index():
            raise
    return answer()


def rate_limiter() -> FixedWindowRateLimiter:
    """The app's ``CHAT_RATE_LIMIT`` counter (built in create_app)."""
    limiter: FixedWindowRateLimiter = current_app.extensions[chat_rate.EXTENSION]
    return limiter


def _count_rate(route: ClientRoute) -> None:
    """``CHAT_RATE_LIMIT``, once per request and client: a view that runs again on a
    fresh index (:func:`_on_a_fresh_index`) does not count twice (kept in the request's
    environ: requests share ``g`` inside a test's app context)."""
    if request.environ.get("chatdock.rate_counted_for") != route.client_id:
        chat_rate.check(rate_limiter(), route.client_id, request.remote_addr)
        request.environ["chatdock.rate_counted_for"] = route.client_id


def _presented_key() -> str | None:
    key = request.headers.get("X-Api-Key")
    if key:
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _usage(usage: Usage | None) -> UsageOut:
    """The token counts of an answer (zeros when the provider reported none)."""
    return UsageOut(
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_tokens=usage.total_tokens if usage else 0,
    )


def _answer(model: BaseModel) -> Response:
    """The answer's JSON, serialised by pydantic in one step (no dict built first)."""
    return current_app.response_class(model.model_dump_json(), mimetype="application/json")


WIDGET_TOKEN_HEADER = "X-Chatdock-Widget"


def _authorized(route: ClientRoute) -> tuple[ApiKey | None, publish.Visitor]:
    """The caller: an API key (servers), or a widget token standing in for one in a
    browser (bound to its embedding origin), or nobody for open clients."""
    check_origin(route)
    token = request.headers.get(WIDGET_TOKEN_HEADER)
    if token:
        return None, publish.read_token(token, route, request.headers.get("Origin"))
    origin = request.headers.get("Origin")
    visitor = publish.Visitor(origin=normalize_origin(origin) if origin else None)
    return api_keys.authenticate(_presented_key(), route), visitor


# --- the native contract -------------------------------------------------------------


def _chat(route: ClientRoute) -> Response:
    if request.method == "OPTIONS":
        return preflight(route)
    _count_rate(route)
    api_key, visitor = _authorized(route)
    body = parse_body(ChatBody)
    prepared = chat.prepare_chat(
        _settings(route),
        messages=[ChatTurn(role=m.role, content=m.content) for m in body.messages],
        prompt_history=[
            ChatTurn(role=HISTORY_ROLES[h.direction], content=h.message)
            for h in body.prompt_history
        ],
        session_key=body.session_key,
        api_key=api_key,
        received=g.started,
        visitor=visitor,
    )
    if body.stream:
        events = chat_stream.native_events(prepared, route="chat")
        return _with_headers(prepared, sse_response(events))
    completion, latency_ms = chat.complete(prepared, route="chat")
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
    return _with_headers(prepared, response)


def _with_headers(prepared: chat.PreparedChat, response: Response) -> Response:
    """``Server-Timing``: chatdock's own time (``app``) and the provider's, so a caller
    sees what chatdock adds (a stream's headers go out before the provider is done:
    ``app`` is then the time before the stream started). Clients on a deprecated model
    keep working; every answer says what to use instead (``X-Chatdock-Warning`` for
    people and browsers, RFC 7234's ``Warning`` for tools)."""
    total_ms = (time.perf_counter() - prepared.received) * 1000
    provider_ms = prepared.provider_seconds * 1000
    response.headers["Server-Timing"] = (
        f"app;dur={total_ms - provider_ms:.1f}, provider;dur={provider_ms:.1f}"
    )
    response.headers["X-Chatdock-Model"] = prepared.model  # a fallback's when one answered
    if prepared.model_warning:
        response.headers["X-Chatdock-Warning"] = prepared.model_warning
        response.headers["Warning"] = f'299 - "{prepared.model_warning}"'
    return response


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
    _count_rate(route)
    api_key, visitor = _authorized(route)
    body = parse_body(OpenAIChatBody)
    prepared = chat.prepare_chat(
        _settings(route),
        messages=[ChatTurn(role=OPENAI_ROLES[m.role], content=m.text()) for m in body.messages],
        prompt_history=[],
        session_key=None,
        api_key=api_key,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        received=g.started,
        visitor=visitor,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = prepared.model
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = chat_stream.openai_events(prepared, completion_id, created, model, include_usage)
        return _with_headers(prepared, sse_response(events))
    completion, _ = chat.complete(prepared, route="openai")
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
            model=prepared.model,
            choices=[choice],
            usage=_usage(completion.usage),
        )
    )
    return _with_headers(prepared, response)


def _register(
    name: str, host_rule: str, path_suffix: str, handler: Callable[[ClientRoute], Response]
) -> None:
    """Serve ``handler`` on client hosts at ``host_rule`` and, on any platform host, at
    ``/api/v0/llm-clients/<id>/<name>/`` + ``path_suffix`` (one ``CHAT_RATE_LIMIT``
    bucket: the handlers count by client)."""

    def on_client_host() -> Response:
        return _on_a_fresh_index(lambda: handler(_route_from_host()))

    def by_path(client_id: int, name: str) -> Response:
        return _on_a_fresh_index(lambda: handler(_route_from_path(client_id, name)))

    options: dict[str, Any] = {"methods": CHAT_METHODS, "provide_automatic_options": False}
    bp.add_url_rule(host_rule, f"{name}_on_client_host", on_client_host, **options)
    bp.add_url_rule(
        f"/api/v0/llm-clients/<int:client_id>/<name>/{path_suffix}",
        f"{name}_by_path",
        by_path,
        **options,
    )


_register("chat", "/llm-client/", "", _chat)
_register("openai", "/v1/chat/completions", "v1/chat/completions", _openai_chat)

bp.after_request(add_cors_headers)
