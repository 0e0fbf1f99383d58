"""A streamed reply as Server-Sent Events: the native contract's (the chat API's and
the console sandbox's) and OpenAI's chunks.

The provider stream starts before anything is answered, so an early provider failure
(bad credentials, unreachable) is a real error status rather than a 200 stream; the
HTTP side (``app.blueprints.http.sse_response``) sends the events and turns a failure
after the 200 into a last ``error`` event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from app.llm.base import StreamChunk
from app.services import chat


def sse(event: str | None, payload: dict[str, Any] | str) -> str:
    """One event: ``event: <name>`` (when named) and its JSON (or raw string) data."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


def primed(chunks: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    """Start the provider stream now: its first failure raises here, before any answer."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())

    def rest() -> Iterator[StreamChunk]:
        yield first
        yield from chunks

    return rest()


def closing_with(
    stream: Generator[StreamChunk, None, None],
) -> Callable[[Callable[[], Iterator[str]]], Callable[[], Iterator[str]]]:
    """Close the provider ``stream`` when the events end, however they end: a caller
    who goes away closes the events (``GeneratorExit``), which then stores what was
    produced and closes the upstream request at once, not whenever the garbage
    collector gets to it."""

    def decorate(events: Callable[[], Iterator[str]]) -> Callable[[], Iterator[str]]:
        def closing() -> Iterator[str]:
            try:
                yield from events()
            finally:
                stream.close()

        return closing

    return decorate


def native_events(prepared: chat.PreparedChat, route: str) -> Iterator[str]:
    """``session``, one data event per delta, then ``done`` with the reply and usage."""
    started = time.perf_counter()
    provider_stream = chat.stream(prepared, route)
    chunks = primed(provider_stream)
    head = {
        "session_key": prepared.session_key,
        "client": prepared.client_name,
        "model": prepared.model,
    }

    @closing_with(provider_stream)
    def events() -> Iterator[str]:
        yield sse("session", head)
        parts, usage, finish = [], None, "stop"
        for chunk in chunks:
            if chunk.delta:
                parts.append(chunk.delta)
                yield sse(None, {"delta": chunk.delta})
            for result in chunk.tool_results:  # the tool loop ran a round of calls
                yield sse("tool", {"name": result.name, "ok": not result.is_error})
            usage = chunk.usage or usage
            finish = chunk.finish_reason or finish
        yield sse(
            "done",
            {
                "reply": "".join(parts),
                "finish_reason": finish,
                "usage": {
                    "prompt_tokens": usage.prompt_tokens if usage else 0,
                    "completion_tokens": usage.completion_tokens if usage else 0,
                    "total_tokens": usage.total_tokens if usage else 0,
                },
                "latency_ms": int((time.perf_counter() - started) * 1000),
            },
        )

    return events()


def openai_events(
    prepared: chat.PreparedChat, completion_id: str, created: int, model: str, include_usage: bool
) -> Iterator[str]:
    """OpenAI's ``chat.completion.chunk`` events, ending with ``[DONE]``."""
    provider_stream = chat.stream(prepared, "openai")
    chunks = primed(provider_stream)
    model = prepared.model  # the fallback's, when the client's own model failed to start

    def chunk(delta: dict, finish: str | None, usage: dict | None = None) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
            if delta or finish
            else [],
        }
        if usage is not None:
            payload["usage"] = usage
        return sse(None, payload)

    @closing_with(provider_stream)
    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        usage, finish = None, "stop"
        for piece in chunks:
            if piece.delta:
                yield chunk({"content": piece.delta}, None)
            usage = piece.usage or usage
            finish = piece.finish_reason or finish
        yield chunk({}, finish)
        if include_usage and usage is not None:
            yield chunk(
                {},
                None,
                {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
            )
        yield sse(None, "[DONE]")

    return events()
