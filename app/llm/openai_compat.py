"""Adapter for OpenAI's Chat Completions API and compatible servers (Ollama, vLLM, ...).

Uses the official ``openai`` SDK with retries off: the chat endpoint decides what a
failure means for the caller, and a retrying SDK would silently multiply latency
past the configured timeout.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import openai

from app.llm.base import (
    ChatRequest,
    Completion,
    ProviderError,
    StreamChunk,
    ToolCall,
    Usage,
    call_timeout,
)
from app.llm.event_stream import data_lines, read_to_end
from app.llm.sdk_errors import bad_response, map_sdk_error

# OpenAI-compatible servers such as Ollama accept any key; the SDK insists on one.
PLACEHOLDER_API_KEY = "unused"


class OpenAICompatibleProvider:
    """Chat completions via ``POST {base_url}/chat/completions``."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        timeout: float,
        http_client: httpx.Client | None = None,
    ) -> None:
        """``http_client``: the transport (a provider connection's network-guarded one)."""
        self.base_url = base_url or None
        self.timeout = timeout
        key = api_key or (PLACEHOLDER_API_KEY if self.base_url else "")
        # Without a key we still construct fine and fail per call with a 503, so a
        # misconfigured provider only breaks the clients that use it.
        self._client: openai.OpenAI | None = (
            openai.OpenAI(
                api_key=key,
                base_url=self.base_url,
                timeout=timeout,
                max_retries=0,
                http_client=http_client,
            )
            if key
            else None
        )

    def _require_client(self) -> openai.OpenAI:
        if self._client is None:
            raise ProviderError.not_configured("openai", "OPENAI_API_KEY")
        return self._client

    @staticmethod
    def _params(request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system_prompt:
            messages.append({"role": "system", "content": request.system_prompt})
        messages.extend({"role": t.role, "content": t.content} for t in request.messages)
        for turn in request.rounds:
            calls = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in turn.calls
            ]
            messages.append(
                {"role": "assistant", "content": turn.text or None, "tool_calls": calls}
            )
            messages.extend(
                {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                for r in turn.results
            )
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "temperature": request.temperature,
            # max_tokens rather than max_completion_tokens: compatible servers know it.
            "max_tokens": request.max_tokens,
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        return params

    def _post(self, request: ChatRequest, timeout: float | None, stream: bool) -> httpx.Response:
        """``POST /chat/completions`` through the SDK's generic ``post`` (its documented
        way to call an endpoint directly): the SDK still adds auth, the base URL and the
        timeout, and raises its typed errors for a failed status; the body is read as
        JSON here. ``chat.completions.create`` would first walk every one of the
        endpoint's ~40 parameter types (``maybe_transform``, ~0.5 ms a call, none of
        which applies to the plain values sent) and build typed objects of the answer."""
        body = self._params(request)
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return self._require_client().post(
            "/chat/completions",
            cast_to=httpx.Response,
            body=body,
            options={"timeout": call_timeout(self.timeout, timeout)},
            stream=stream,
        )

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        try:
            answer = self._post(request, timeout, stream=False).json()
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._map_error(exc) from exc
        except ValueError as exc:  # not JSON
            raise bad_response("the provider returned a malformed response") from exc
        try:
            choice = answer["choices"][0]
            message = choice["message"]
            content = message.get("content")
            model = str(answer.get("model") or request.model)
            usage = _usage(answer.get("usage"))
            finish_reason = str(choice.get("finish_reason") or "stop")
            calls = [
                ToolCall(
                    id=str(c["id"]),
                    name=str(c["function"]["name"]),
                    arguments=str(c["function"].get("arguments") or "{}"),
                )
                for c in message.get("tool_calls") or []
            ]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            # A JSON body of the wrong shape.
            raise bad_response("the provider returned a malformed response") from exc
        if calls:
            content = content if isinstance(content, str) else ""
        elif not isinstance(content, str) or not content:
            raise bad_response("the provider returned an empty reply")
        return Completion(
            content=content,
            model=model,
            usage=usage,
            finish_reason=finish_reason,
            tool_calls=calls,
        )

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]:
        """The SDK sends the request and raises its errors; the chunks are read from the
        raw event stream: the SDK's typed chunk objects cost about 80 us each to build,
        per token, against about 5 us for the JSON."""
        usage: Usage | None = None
        finish_reason: str | None = None
        got_text = False
        calls: dict[int, dict[str, str]] = {}  # by index: id, name, arguments so far
        response: httpx.Response | None = None
        try:
            response = self._post(request, timeout, stream=True)
            for chunk in _events(response.iter_lines(), response.request):
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                # The final usage chunk has no choices; we ask for one choice only.
                for choice in chunk.get("choices") or []:
                    finish_reason = choice.get("finish_reason") or finish_reason
                    delta = choice.get("delta") or {}
                    for piece in delta.get("tool_calls") or []:
                        _add_call_piece(calls, piece)
                    text = delta.get("content")
                    if text:
                        got_text = True
                        yield StreamChunk(delta=str(text))
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            # httpx errors raised while iterating the body are not wrapped by the SDK.
            raise self._map_error(exc) from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise bad_response("the provider sent a malformed stream") from exc
        finally:
            if response is not None:
                response.close()  # a caller gone mid-stream: the upstream request ends too
        tool_calls = [
            ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"] or "{}")
            for _, c in sorted(calls.items())
        ]
        if not got_text and not tool_calls:
            raise bad_response("the provider returned an empty reply")
        yield StreamChunk(usage=usage, finish_reason=finish_reason or "stop", tool_calls=tool_calls)

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_sdk_error(openai, "openai", self.timeout, exc)


def _events(lines: Iterator[str], request: httpx.Request) -> Iterator[dict[str, Any]]:
    """The JSON objects of an OpenAI-style event stream, up to ``[DONE]``. An ``error``
    object in the stream (a failure after the 200) raises as the SDK's own reading
    would: ``openai.APIError``."""
    for data in data_lines(lines):
        if data.startswith("[DONE]"):
            read_to_end(lines)
            return
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise TypeError("a stream chunk is not an object")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else None
            raise openai.APIError(
                str(message or "An error occurred during streaming"), request, body=error
            )
        yield chunk


def _add_call_piece(calls: dict[int, dict[str, str]], piece: dict[str, Any]) -> None:
    """Streamed tool calls come in pieces by index: the id and name first, then the
    arguments' JSON text in fragments."""
    call = calls.setdefault(int(piece.get("index") or 0), {"id": "", "name": "", "arguments": ""})
    if piece.get("id"):
        call["id"] = str(piece["id"])
    function = piece.get("function") or {}
    call["name"] += function.get("name") or ""
    call["arguments"] += function.get("arguments") or ""


def _usage(raw: Any) -> Usage:
    """Usage from an answer's or a stream chunk's ``usage`` object (None: not reported)."""
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
    )
