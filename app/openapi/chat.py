"""The chat API's part of the OpenAPI document: its operation tables (``ENDPOINTS``,
``GETS``) with the words of ``chat_prose``; every schema is generated from the pydantic
models the routes validate and answer with (``app.schemas.chat``, ``health``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.names import CLIENT_NAME_RE
from app.openapi.chat_prose import (
    AUTH_NOTE,
    BY_ID_NOTE,
    ERRORS,
    NATIVE_DESCRIPTION,
    NATIVE_STREAM,
    NATIVE_STREAM_EXAMPLE,
    OPENAI_DESCRIPTION,
    OPENAI_STREAM,
    OPENAI_STREAM_EXAMPLE,
    client_host_note,
)
from app.openapi.common import json_content, model_schemas, response_ref, schema_ref
from app.schemas.chat import (
    ChatBody,
    ChatCompletion,
    ChatCompletionChunk,
    ChatReply,
    ErrorBody,
    OpenAIChatBody,
    StreamDelta,
    StreamDone,
    StreamSession,
)
from app.schemas.health import Health, Readiness

EXAMPLE_ACCOUNT_NUMBER = "3141-5926-5359"
NATIVE_PATH = "/llm-client/"
NATIVE_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/"
OPENAI_PATH = "/v1/chat/completions"
OPENAI_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/v1/chat/completions"
CHAT_PATHS = (NATIVE_PATH, NATIVE_BY_ID_PATH, OPENAI_PATH, OPENAI_BY_ID_PATH)
CLIENT_HOST_PATHS = (NATIVE_PATH, OPENAI_PATH)


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
            note = client_host_note(endpoint.host_path) if on_host else BY_ID_NOTE
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
