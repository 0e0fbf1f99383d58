"""The OpenAPI 3.1 document of the chat API, built from the pydantic models.

Request and response bodies come from the pydantic models (``app.blueprints.chat.schemas``,
plus the few response shapes below that the routes build by hand); nothing pydantic can
produce is written as JSON Schema here. The document depends only on the code and the
configured ``CUSTOMER_API_DOMAIN`` (used in the client-host server), so it is built once
per process and cached.
"""

from __future__ import annotations

import copy
import inspect
import json
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.blueprints.chat.schemas import (
    AssistantMessage,
    ChatBody,
    ChatReply,
    ErrorBody,
    OpenAIChatBody,
    Usage,
)
from app.names import CLIENT_NAME_RE
from app.openapi_management import management_openapi
from app.services import chat as chat_service

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
EXAMPLE_ACCOUNT_NUMBER = "3141-5926-5359"

NATIVE_PATH = "/llm-client/"
NATIVE_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/"
OPENAI_PATH = "/v1/chat/completions"
OPENAI_BY_ID_PATH = "/api/v0/llm-clients/{client_id}/{name}/v1/chat/completions"
CHAT_PATHS = (NATIVE_PATH, NATIVE_BY_ID_PATH, OPENAI_PATH, OPENAI_BY_ID_PATH)
CLIENT_HOST_PATHS = (NATIVE_PATH, OPENAI_PATH)


# --- response shapes the routes build by hand (documentation models) -----------------


class StreamSession(BaseModel):
    """Data of the first event (``event: session``) of a native stream."""

    session_key: str
    client: str
    model: str


class StreamDelta(BaseModel):
    """Data of each unnamed event of a native stream: the next piece of the reply."""

    delta: str


class StreamDone(BaseModel):
    """Data of the last event (``event: done``) of a native stream."""

    reply: str = Field(description="The whole reply: the concatenated deltas.")
    finish_reason: str
    usage: Usage
    latency_ms: int


class CompletionChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI's ``chat.completion`` object; ``model`` is the client's model."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: str | None


class ChatCompletionChunk(BaseModel):
    """Data of each event of an OpenAI-compatible stream (OpenAI's chunk object)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = Field(
        default=None,
        description="Only in the extra last chunk sent with stream_options.include_usage.",
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="Per dependency: 'ok' or 'failed: <error type>'. 'redis' only when "
        "REDIS_URL is set."
    )


REQUEST_MODELS: tuple[type[BaseModel], ...] = (ChatBody, OpenAIChatBody)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ChatReply,
    ErrorBody,
    StreamSession,
    StreamDelta,
    StreamDone,
    ChatCompletion,
    ChatCompletionChunk,
    Health,
    Readiness,
)


# --- descriptions --------------------------------------------------------------------


def merge_rule() -> str:
    """The merge rule of ``messages`` and ``prompt_history``, from app/services/chat.py."""
    doc = inspect.cleandoc(chat_service.__doc__ or "")
    _, found, rule = doc.partition("Merge rule (documented in the README):")
    return (rule if found else doc).strip().replace("``", "`")


def _client_host_note(path: str) -> str:
    return (
        f"`{path}` is served on a client host, `{{name}}.{{account_number}}."
        "{CUSTOMER_API_DOMAIN}` (or the client's verified custom domain, "
        "`{name}.{custom domain}`): the Host header selects the client, so the path has no "
        "client id (see the `client_host` server variable). On any other host the request "
        "is refused (400 `unknown_host`, or 404 `client_not_found` on a platform host)."
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

NATIVE_STREAM_EXAMPLE = (
    "event: session\n"
    'data: {"session_key": "6kKxQ0r3mJ1TqgY8dZs2vA9wXcBn4eHf", "client": "demo", '
    '"model": "echo-1"}\n\n'
    'data: {"delta": "echo: "}\n\n'
    'data: {"delta": "hello"}\n\n'
    "event: done\n"
    'data: {"reply": "echo: hello", "finish_reason": "stop", "usage": {"prompt_tokens": 1, '
    '"completion_tokens": 2, "total_tokens": 3}, "latency_ms": 0}\n\n'
)


def _example_chunk(delta: dict[str, str], finish_reason: str | None) -> str:
    chunk = {
        "id": "chatcmpl-9f0c2d",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "echo-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


OPENAI_STREAM_EXAMPLE = (
    _example_chunk({"role": "assistant", "content": ""}, None)
    + _example_chunk({"content": "echo: hello"}, None)
    + _example_chunk({}, "stop")
    + "data: [DONE]\n\n"
)

NATIVE_DESCRIPTION = (
    "Send the new `messages` (and, for a chat UI, the `prompt_history` it shows) and get the "
    "client's reply. Pass the returned `session_key` back to continue the conversation on "
    "the server.\n\n**Merge rule** of `messages` and `prompt_history`:\n\n"
    "{merge_rule}\n\n"
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
        "`unknown_provider`.",
    ),
    "504": ("GatewayTimeout", "`provider_timeout`: the LLM provider did not answer in time."),
}
ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimited": {
        "Retry-After": {
            "description": "Seconds until the client's rate limit allows a request again "
            "(`rate_limited` only).",
            "schema": {"type": "string"},
        }
    }
}
CHAT_ERROR_STATUSES = tuple(ERRORS)
PREFLIGHT_ERROR_STATUSES = ("400", "403", "404")


# --- the document --------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _component_schemas() -> dict[str, Any]:
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]]
    pairs = [(model, "validation") for model in REQUEST_MODELS]
    pairs += [(model, "serialization") for model in RESPONSE_MODELS]
    _, schema = models_json_schema(pairs, ref_template=REF_TEMPLATE)
    return schema["$defs"]


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema_name)}}


def _request_id_header() -> dict[str, Any]:
    return {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}


MODEL_WARNING_HEADERS = {
    "X-Chatdock-Warning": {
        "description": "Present when the client's model is deprecated: it still answers, "
        "and will move to the named replacement when the model is removed, e.g. "
        "`model gpt-5 is deprecated; use gpt-5.4`. Exposed to browsers (CORS).",
        "required": False,
        "schema": {"type": "string"},
    },
    "Warning": {
        "description": 'The same warning as RFC 7234\'s `Warning: 299 - "..."`.',
        "required": False,
        "schema": {"type": "string"},
    },
}


def _model_warning_headers() -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in MODEL_WARNING_HEADERS}


def _chat_operation(
    *,
    operation_id: str,
    summary: str,
    description: str,
    body: str,
    reply: str,
    stream_description: str,
    stream_example: str,
    path_params: bool,
    tags: list[str],
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": tags,
        "security": [{"ApiKeyHeader": []}, {"BearerAuth": []}, {}],
        "requestBody": {"required": True, "content": _json(body)},
        "responses": {
            "200": {
                "description": "The reply: JSON, or an event stream when the request "
                'says `"stream": true`.\n\n' + stream_description,
                "headers": {**_request_id_header(), **_model_warning_headers()},
                "content": {
                    **_json(reply),
                    "text/event-stream": {"example": stream_example},
                },
            },
            **{
                status: {"$ref": f"#/components/responses/{ERRORS[status][0]}"} for status in ERRORS
            },
        },
    }
    if path_params:
        operation["parameters"] = _path_parameters()
    return operation


def _preflight_operation(operation_id: str, path_params: bool, note: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": "CORS preflight",
        "description": "Answers a browser's CORS preflight for the client. The origin must be "
        "one of the client's hosts (any scheme/port) or one of its allowed origins.\n\n" + note,
        "tags": ["cors"],
        "parameters": [
            *(_path_parameters() if path_params else []),
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
        ],
        "responses": {
            "204": {
                "description": "The origin may call this client.",
                "headers": {
                    **_request_id_header(),
                    "Access-Control-Allow-Origin": {
                        "description": "The request's origin.",
                        "schema": {"type": "string"},
                    },
                    "Access-Control-Allow-Methods": {
                        "description": "`POST, OPTIONS`",
                        "schema": {"type": "string"},
                    },
                    "Access-Control-Allow-Headers": {
                        "description": "`Content-Type, X-Api-Key, Authorization, X-Request-ID`",
                        "schema": {"type": "string"},
                    },
                    "Access-Control-Max-Age": {
                        "description": "Seconds the answer may be cached.",
                        "schema": {"type": "string"},
                    },
                },
            },
            **{
                s: {"$ref": f"#/components/responses/{ERRORS[s][0]}"}
                for s in PREFLIGHT_ERROR_STATUSES
            },
        },
    }
    return operation


def _path_parameters() -> list[dict[str, Any]]:
    return [
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
    native = NATIVE_DESCRIPTION.format(merge_rule=merge_rule())
    servers = _client_host_servers(customer_api_domain)
    flavours = (
        # (name, host path, path-form path, description, body, reply, stream text, example)
        ("chat", NATIVE_PATH, NATIVE_BY_ID_PATH, native, "ChatBody", "ChatReply",
         NATIVE_STREAM, NATIVE_STREAM_EXAMPLE, "Chat with the client", ["chat"]),
        ("openaiChat", OPENAI_PATH, OPENAI_BY_ID_PATH, OPENAI_DESCRIPTION, "OpenAIChatBody",
         "ChatCompletion", OPENAI_STREAM, OPENAI_STREAM_EXAMPLE,
         "OpenAI-compatible chat completion with the client", ["openai"]),
    )  # fmt: skip
    paths: dict[str, Any] = {}
    for name, host_path, id_path, text, body, reply, stream, example, summary, tags in flavours:
        for on_host in (True, False):
            note = _client_host_note(host_path) if on_host else BY_ID_NOTE
            suffix = "OnClientHost" if on_host else "ByPath"
            entry: dict[str, Any] = {"servers": servers} if on_host else {}
            entry["post"] = _chat_operation(
                operation_id=f"{name}{suffix}",
                summary=f"{summary} {'of this host' if on_host else 'named in the path'}",
                description=f"{text}\n\n{note}\n\n{AUTH_NOTE}",
                body=body,
                reply=reply,
                stream_description=stream,
                stream_example=example,
                path_params=not on_host,
                tags=tags,
            )
            entry["options"] = _preflight_operation(
                f"preflight{name[0].upper()}{name[1:]}{suffix}", not on_host, note
            )
            paths[host_path if on_host else id_path] = entry
    paths.update(
        {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "description": "The process is up; no dependency is checked. "
                    "Answers on any Host.",
                    "tags": ["health"],
                    "responses": {
                        "200": {"description": "Alive.", "content": _json("Health")},
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness",
                    "description": "Ready to serve: the database answers, and Redis when it is "
                    "configured. Answers on any Host.",
                    "tags": ["health"],
                    "responses": {
                        "200": {"description": "Ready.", "content": _json("Readiness")},
                        "503": {"description": "Not ready.", "content": _json("Readiness")},
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "tags": ["meta"],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document of the chat API.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": {"$ref": "#/components/responses/BadRequest"},
                    },
                }
            },
        }
    )
    return paths


def build_openapi(customer_api_domain: str = "api.localhost") -> dict[str, Any]:
    """Build the document (uncached; see :func:`openapi_document`): the chat API, and
    the management API (``app.openapi_management``)."""
    document = _chat_document(customer_api_domain)
    management = management_openapi(REF_TEMPLATE)
    components = document["components"]
    for part in ("schemas", "responses", "securitySchemes"):
        clash = {
            n
            for n in set(components[part]) & set(management[part])
            if components[part][n] != management[part][n]
        }
        assert not clash, f"management {part} clash with the chat API's: {clash}"
        components[part].update(management[part])
    document["paths"].update(management["paths"])
    document["tags"].append(management["tag"])
    document["info"]["title"] = "chatdock API"
    return document


def _chat_document(customer_api_domain: str) -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "chatdock chat API",
            "version": API_VERSION,
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
                    "headers": {**_request_id_header(), **ERROR_HEADERS.get(name, {})},
                    "content": _json("ErrorBody"),
                }
                for name, description in ERRORS.values()
            },
            "headers": {
                "X-Request-ID": {
                    "description": "The request id: the caller's `X-Request-ID` when it is "
                    "safe (1-64 of `A-Za-z0-9._-`), else a new one. Quote it in bug reports.",
                    "required": True,
                    "schema": {"type": "string"},
                },
                **MODEL_WARNING_HEADERS,
            },
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


@lru_cache(maxsize=4)
def _document_json(customer_api_domain: str) -> str:
    return json.dumps(build_openapi(customer_api_domain), separators=(",", ":"))


@lru_cache(maxsize=4)
def _document(customer_api_domain: str) -> dict[str, Any]:
    return json.loads(_document_json(customer_api_domain))


def openapi_json(customer_api_domain: str) -> str:
    """The document as compact JSON, built once per process (per domain)."""
    return _document_json(customer_api_domain)


def openapi_document(customer_api_domain: str) -> dict[str, Any]:
    """A copy of the cached document, safe to modify."""
    return copy.deepcopy(_document(customer_api_domain))
