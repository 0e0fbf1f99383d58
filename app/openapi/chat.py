"""The chat API's part of the OpenAPI document: its operation tables (``ENDPOINTS``,
``GETS``) and the prose callers need; every schema is generated from the pydantic models
the routes validate and answer with (``app.schemas.chat``, ``health``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.names import CLIENT_NAME_RE
from app.openapi.common import json_content, model_schemas, response_ref, schema_ref
from app.schemas.chat import (
    ChatBody,
    ChatCompletion,
    ChatCompletionChunk,
    ChatReply,
    ChunkChoice,
    ChunkDelta,
    ErrorBody,
    OpenAIChatBody,
    StreamDelta,
    StreamDone,
    StreamSession,
    Usage,
)
from app.schemas.health import Health, Readiness
from app.services.chat import MERGE_RULE

EXAMPLE_ACCOUNT_NUMBER = "3141-5926-5359"
NATIVE_PATH = "/llm-client/"
NATIVE_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/"
OPENAI_PATH = "/v1/chat/completions"
OPENAI_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/v1/chat/completions"
CHAT_PATHS = (NATIVE_PATH, NATIVE_BY_ID_PATH, OPENAI_PATH, OPENAI_BY_ID_PATH)
CLIENT_HOST_PATHS = (NATIVE_PATH, OPENAI_PATH)


# --- prose ----------------------------------------------------------------------------

NATIVE_DESCRIPTION = (
    "Send the new `messages` (and, for a chat UI, the `prompt_history` it shows) and get the "
    "client's reply. Pass the returned `session_key` back to continue the conversation on "
    "the server.\n\n**Merge rule** of `messages` and `prompt_history`:\n\n"
    f"{MERGE_RULE}\n\n"
    "A `system` message adds to the client's own system prompt. Limits: at most "
    "CHAT_MAX_MESSAGES items in `messages` and `prompt_history` together, and "
    "CHAT_MAX_MESSAGE_CHARS characters per message (400 otherwise)."
)

OPENAI_DESCRIPTION = (
    "OpenAI-compatible chat completions, so OpenAI SDKs work with `base_url` set to the "
    "client host (or to `.../api/v0/llm-clients/{client_id}/{name}/v1`). The client's own "
    "model and system prompt apply whatever `model` says; `developer` messages count as "
    "`system`; `temperature` replaces the client's; `max_tokens` / `max_completion_tokens` "
    "can only lower the client's limit. Every request starts a new conversation: send the "
    "whole conversation in `messages` (it must end with a `user` message)."
)

NATIVE_STREAM = (
    'With `"stream": true` the answer is `text/event-stream` (Server-Sent Events), status '
    "200:\n\n"
    "1. `event: session` with data `StreamSession` (`session_key`, `client`, `model`);\n"
    "2. unnamed events, one per piece of the reply, with data `StreamDelta` (`delta`);\n"
    "3. `event: done` with data `StreamDone` (`reply`, `finish_reason`, `usage`, "
    "`latency_ms`).\n\n"
    "A provider failure before the first piece is a normal error status (429/502/503/504); a "
    "failure later ends the stream with `event: error` whose data is an `ErrorBody`. Schemas "
    "of the event data are in `components/schemas`."
)

OPENAI_STREAM = (
    'With `"stream": true` the answer is `text/event-stream` (Server-Sent Events), status '
    "200, in OpenAI's format: unnamed events whose data is a `ChatCompletionChunk` (first "
    'one `delta: {"role": "assistant", "content": ""}`, then one per piece of the reply with '
    '`delta: {"content": ...}`, then one with an empty delta and the `finish_reason`; with '
    '`"stream_options": {"include_usage": true}` an extra last chunk has empty `choices` and '
    "the `usage`), and finally `data: [DONE]`. A provider failure before the first piece is "
    "a normal error status (429/502/503/504); a failure later ends the stream with "
    "`event: error` whose data is an `ErrorBody`."
)

BY_ID_NOTE = (
    "Served on every host the platform serves (PLATFORM_HOSTS, and localhost / `*.localhost` "
    "in development); `client_id` and `name` must both match the client."
)

AUTH_NOTE = (
    "A client that requires an API key needs it as `x-api-key: <key>` or "
    "`Authorization: Bearer <key>`; clients that do not require one ignore any key sent. "
    "A browser request (with an `Origin` header) is refused with 403 unless the origin is "
    "one of the client's hosts or its allowed origins."
)


def _client_host_note(path: str) -> str:
    return (
        f"`{path}` is served on a client host, `{{name}}.{{account_number}}."
        "{CUSTOMER_API_DOMAIN}` (or the client's verified custom domain, "
        "`{name}.{custom domain}`): the Host header selects the client, so the path has no "
        "client id (see the `client_host` server variable). On any other host the request "
        "is refused (400 `unknown_host`, or 404 `client_not_found` on a platform host)."
    )


# --- stream examples, built from the event models -------------------------------------


def _event(name: str | None, data: BaseModel | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data.model_dump(exclude_unset=True))
    return (f"event: {name}\n" if name else "") + f"data: {text}\n\n"


def _example_chunk(delta: ChunkDelta, finish_reason: str | None) -> str:
    return _event(
        None,
        ChatCompletionChunk(
            id="chatcmpl-9f0c2d",
            object="chat.completion.chunk",
            created=1700000000,
            model="echo-1",
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        ),
    )


NATIVE_STREAM_EXAMPLE = (
    _event(
        "session",
        StreamSession(
            session_key="6kKxQ0r3mJ1TqgY8dZs2vA9wXcBn4eHf", client="demo", model="echo-1"
        ),
    )
    + _event(None, StreamDelta(delta="echo: "))
    + _event(None, StreamDelta(delta="hello"))
    + _event(
        "done",
        StreamDone(
            reply="echo: hello",
            finish_reason="stop",
            usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
            latency_ms=0,
        ),
    )
)

OPENAI_STREAM_EXAMPLE = (
    _example_chunk(ChunkDelta(role="assistant", content=""), None)
    + _example_chunk(ChunkDelta(content="echo: hello"), None)
    + _example_chunk(ChunkDelta(), "stop")
    + _event(None, "[DONE]")
)


# --- the operation tables -------------------------------------------------------------


@dataclass(frozen=True)
class ChatEndpoint:
    """One chat contract, served on client hosts (``host_path``) and on any platform host
    with the client in the path (``by_id_path``): a POST and its CORS preflight each."""

    operation: str  # operationId stem: <operation>OnClientHost, <operation>ByPath
    host_path: str
    by_id_path: str
    summary: str
    tag: str
    body: type[BaseModel]
    reply: type[BaseModel]
    events: tuple[type[BaseModel], ...]  # the data of the event stream's events
    description: str
    stream: str
    stream_example: str


ENDPOINTS = (
    ChatEndpoint("chat", NATIVE_PATH, NATIVE_BY_ID_PATH, "Chat with the client", "chat",
                 ChatBody, ChatReply, (StreamSession, StreamDelta, StreamDone),
                 NATIVE_DESCRIPTION, NATIVE_STREAM, NATIVE_STREAM_EXAMPLE),
    ChatEndpoint("openaiChat", OPENAI_PATH, OPENAI_BY_ID_PATH,
                 "OpenAI-compatible chat completion with the client", "openai",
                 OpenAIChatBody, ChatCompletion, (ChatCompletionChunk,),
                 OPENAI_DESCRIPTION, OPENAI_STREAM, OPENAI_STREAM_EXAMPLE),
)  # fmt: skip


@dataclass(frozen=True)
class Get:
    """A GET answered with JSON: per status, its description and model (None: any JSON
    object); ``errors`` are statuses answered with the shared error responses."""

    path: str
    operation_id: str
    summary: str
    tag: str
    description: str | None
    responses: dict[str, tuple[str, type[BaseModel] | None]]
    errors: tuple[str, ...] = ()


GETS = (
    Get("/healthz", "healthz", "Liveness", "health",
        "The process is up; no dependency is checked. Answers on any Host.",
        {"200": ("Alive.", Health)}),
    Get("/readyz", "readyz", "Readiness", "health",
        "Ready to serve: the database answers, and Redis when it is configured. Answers on "
        "any Host.",
        {"200": ("Ready.", Readiness), "503": ("Not ready.", Readiness)}),
    Get("/api/openapi.json", "openapi", "This document", "meta", None,
        {"200": ("The OpenAPI document of the chat API.", None)}, errors=("400",)),
)  # fmt: skip

# Status: (component name, description) of the chat API's error responses.
ERRORS: dict[str, tuple[str, str]] = {
    "400": (
        "BadRequest",
        "The request is invalid: `invalid_json` (the body is empty or not JSON), "
        "`invalid_request` (the body does not match the schema; `error.details` lists each "
        "problem), `invalid_messages` (the last message is not from the user), "
        "`too_many_messages`, `message_too_long`, or `unknown_host` (the Host is not served "
        "here).",
    ),
    "401": (
        "Unauthorized",
        "The client requires an API key: `api_key_missing`, `api_key_invalid`, "
        "`api_key_revoked` or `api_key_expired`.",
    ),
    "403": (
        "Forbidden",
        "`api_key_forbidden` (the key belongs to another account or is limited to other "
        "clients) or `origin_not_allowed` (a browser Origin that may not call this client).",
    ),
    "404": (
        "NotFound",
        "`client_not_found`, `client_not_deployed`, `session_not_found` (an unknown "
        "`session_key` for this client), or `not_found` (no such path).",
    ),
    "413": ("PayloadTooLarge", "`payload_too_large`: the body exceeds MAX_CONTENT_LENGTH."),
    "429": (
        "RateLimited",
        "`rate_limited` (more than CHAT_RATE_LIMIT requests to this client from this caller, "
        "or a client's or API key's requests or tokens per minute; see `Retry-After`), "
        "`budget_exhausted` (the account's monthly token budget is used up; `Retry-After` "
        "and `details.resets_at` say when it resets) or `provider_rate_limited` (the LLM "
        "provider rate-limited us).",
    ),
    "502": (
        "BadGateway",
        "The LLM provider failed: `provider_error`, `provider_unreachable`, "
        "`provider_auth_failed` or `provider_bad_response`. Nothing was stored; the same "
        "request can be retried.",
    ),
    "503": (
        "ServiceUnavailable",
        "The client's provider is not usable here: `provider_not_configured` or "
        "`unknown_provider`; or `database_busy` (with `Retry-After`): retry.",
    ),
    "504": ("GatewayTimeout", "`provider_timeout`: the LLM provider did not answer in time."),
}
CHAT_ERROR_STATUSES = tuple(ERRORS)
PREFLIGHT_ERROR_STATUSES = ("400", "403", "404")


# --- headers and parameters -----------------------------------------------------------


def _string(description: str | None = None, **extra: Any) -> dict[str, Any]:
    described = {"description": description} if description else {}
    return {**described, **extra, "schema": {"type": "string"}}


HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": _string(
        "The request id: the caller's `X-Request-ID` when it is safe (1-64 of "
        "`A-Za-z0-9._-`), else a new one. Quote it in bug reports.",
        required=True,
    ),
    "X-Chatdock-Warning": _string(
        "Present when the client's model is deprecated: it still answers, and will move to "
        "the named replacement when the model is removed, e.g. "
        "`model gpt-5 is deprecated; use gpt-5.4`. Exposed to browsers (CORS).",
        required=False,
    ),
    "Warning": _string('The same warning as RFC 7234\'s `Warning: 299 - "..."`.', required=False),
}
ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimited": {
        "Retry-After": _string(
            "Seconds until the client's rate limit allows a request again (`rate_limited` only)."
        )
    }
}
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Origin": _string("The request's origin."),
    "Access-Control-Allow-Methods": _string("`POST, OPTIONS`"),
    "Access-Control-Allow-Headers": _string(
        "`Content-Type, X-Api-Key, Authorization, X-Request-ID`"
    ),
    "Access-Control-Max-Age": _string("Seconds the answer may be cached."),
}


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


PATH_PARAMETERS = [
    {
        "name": "client_id",
        "in": "path",
        "required": True,
        "description": "The client's id.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "The client's name (a DNS label); must match the id.",
        "schema": {"type": "string", "pattern": f"^{CLIENT_NAME_RE.pattern}$"},
    },
]
PREFLIGHT_PARAMETERS = [
    {
        "name": "Origin",
        "in": "header",
        "required": True,
        "description": "The calling page's origin, `scheme://host[:port]`.",
        "schema": {"type": "string"},
        "example": "https://www.example.com",
    },
    {
        "name": "Access-Control-Request-Method",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "example": "POST",
    },
]


# --- operations -----------------------------------------------------------------------


def _errors(statuses: tuple[str, ...]) -> dict[str, Any]:
    return {status: response_ref(ERRORS[status][0]) for status in statuses}


def _chat_post(endpoint: ChatEndpoint, on_host: bool, note: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation + ("OnClientHost" if on_host else "ByPath"),
        "summary": f"{endpoint.summary} {'of this host' if on_host else 'named in the path'}",
        "description": f"{endpoint.description}\n\n{note}\n\n{AUTH_NOTE}",
        "tags": [endpoint.tag],
        "security": [{"ApiKeyHeader": []}, {"BearerAuth": []}, {}],
        "requestBody": {
            "required": True,
            "content": json_content(schema_ref(endpoint.body.__name__)),
        },
        "responses": {
            "200": {
                "description": "The reply: JSON, or an event stream when the request says "
                '`"stream": true`.\n\n' + endpoint.stream,
                "headers": _header_refs("X-Request-ID", "X-Chatdock-Warning", "Warning"),
                "content": {
                    **json_content(schema_ref(endpoint.reply.__name__)),
                    "text/event-stream": {"example": endpoint.stream_example},
                },
            },
            **_errors(CHAT_ERROR_STATUSES),
        },
    }
    if not on_host:
        operation["parameters"] = PATH_PARAMETERS
    return operation


def _preflight(endpoint: ChatEndpoint, on_host: bool, note: str) -> dict[str, Any]:
    stem = endpoint.operation[0].upper() + endpoint.operation[1:]
    return {
        "operationId": f"preflight{stem}{'OnClientHost' if on_host else 'ByPath'}",
        "summary": "CORS preflight",
        "description": "Answers a browser's CORS preflight for the client. The origin must be "
        "one of the client's hosts (any scheme/port) or one of its allowed origins.\n\n" + note,
        "tags": ["cors"],
        "parameters": [*([] if on_host else PATH_PARAMETERS), *PREFLIGHT_PARAMETERS],
        "responses": {
            "204": {
                "description": "The origin may call this client.",
                "headers": {**_header_refs("X-Request-ID"), **PREFLIGHT_HEADERS},
            },
            **_errors(PREFLIGHT_ERROR_STATUSES),
        },
    }


def _get(get: Get) -> dict[str, Any]:
    responses: dict[str, Any] = {
        status: {
            "description": text,
            "content": json_content(schema_ref(model.__name__) if model else {"type": "object"}),
        }
        for status, (text, model) in get.responses.items()
    }
    described = {"description": get.description} if get.description else {}
    return {
        "operationId": get.operation_id,
        "summary": get.summary,
        **described,
        "tags": [get.tag],
        "responses": {**responses, **_errors(get.errors)},
    }


def _client_host_servers(customer_api_domain: str) -> list[dict[str, Any]]:
    return [
        {
            "url": "{scheme}://{client_host}",
            "description": "A client host: `{name}.{account_number}.{CUSTOMER_API_DOMAIN}`, "
            f"here `{{name}}.{{account_number}}.{customer_api_domain}`, or "
            "`{name}.{verified custom domain}`.",
            "variables": {
                "scheme": {"enum": ["https", "http"], "default": "https"},
                "client_host": {
                    "default": f"demo.{EXAMPLE_ACCOUNT_NUMBER}.{customer_api_domain}",
                    "description": "The client's host (with `:port` in development, e.g. "
                    f"`demo.{EXAMPLE_ACCOUNT_NUMBER}.api.localhost:5000`).",
                },
            },
        }
    ]


def _paths(customer_api_domain: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        for on_host in (True, False):
            note = _client_host_note(endpoint.host_path) if on_host else BY_ID_NOTE
            entry: dict[str, Any] = (
                {"servers": _client_host_servers(customer_api_domain)} if on_host else {}
            )
            entry["post"] = _chat_post(endpoint, on_host, note)
            entry["options"] = _preflight(endpoint, on_host, note)
            paths[endpoint.host_path if on_host else endpoint.by_id_path] = entry
    paths.update({get.path: {"get": _get(get)} for get in GETS})
    return paths


def _component_schemas() -> dict[str, Any]:
    responses: list[type[BaseModel]] = [ErrorBody]
    for endpoint in ENDPOINTS:
        responses += [endpoint.reply, *endpoint.events]
    for get in GETS:
        responses += [model for _, model in get.responses.values() if model is not None]
    _, schemas = model_schemas([endpoint.body for endpoint in ENDPOINTS], responses)
    return schemas


def chat_document(customer_api_domain: str) -> dict[str, Any]:
    """The chat API's document, to which the management API's part is added."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatdock chat API",
            "version": "0.1.0",
            "description": "Chat with the LLM clients chatdock hosts, in chatdock's own "
            "format (`/llm-client/`, `/api/v0/llm-clients/{client_id}/{name}/`) or OpenAI's "
            "(`/v1/chat/completions`). `/llm-client/` and `/v1/chat/completions` are served "
            f"on client hosts `{{name}}.{{account_number}}.{customer_api_domain}` (see their "
            "`servers`); the `/api/v0/...` paths on any platform host. Every error is JSON "
            '`{"error": {"code": "...", "message": "..."}}` with a fitting status, and every '
            "response carries an `X-Request-ID` header.",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [
            {
                "url": "/",
                "description": "A platform host (the `/api/v0/...` paths, probes, this "
                "document). Client-host paths override this with their own `servers`.",
            }
        ],
        "tags": [
            {"name": "chat", "description": "chatdock's own chat contract."},
            {"name": "openai", "description": "OpenAI-compatible chat completions."},
            {"name": "cors", "description": "CORS preflights of the chat endpoints."},
            {"name": "health", "description": "Probes."},
            {"name": "meta", "description": "This document."},
        ],
        "paths": _paths(customer_api_domain),
        "components": {
            "schemas": _component_schemas(),
            "responses": {
                name: {
                    "description": description,
                    "headers": {**_header_refs("X-Request-ID"), **ERROR_HEADERS.get(name, {})},
                    "content": json_content(schema_ref("ErrorBody")),
                }
                for name, description in ERRORS.values()
            },
            "headers": HEADERS,
            "securitySchemes": {
                "ApiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "An API key (`cdk_<key_id>_<secret>`), for clients that "
                    "require one.",
                },
                "BearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The same API key as a bearer token (what OpenAI SDKs send).",
                },
            },
        },
    }
