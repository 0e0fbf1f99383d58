"""The chat API document's words: each endpoint's description, its stream's description
and example (built from the event models), the notes shared by paths, and the error
responses' descriptions. ``app.openapi.chat`` puts them in the operation tables."""

from __future__ import annotations

import json

from pydantic import BaseModel

from app.schemas.chat import (
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    StreamDelta,
    StreamDone,
    StreamSession,
    Usage,
)
from app.services.chat import MERGE_RULE

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
    "2. unnamed events, one per piece of the reply, with data `StreamDelta` (`delta`); "
    "for a client with tools, after each round of tool calls one `event: tool` per call "
    'with data `{"name": ..., "ok": true|false}` (docs/tools.md);\n'
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


def client_host_note(path: str) -> str:
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
