"""Adapter for Anthropic's Messages API.

Uses the official ``anthropic`` SDK with retries off (the chat endpoint owns failure
policy). The Messages API is stricter than Chat Completions: the system prompt is a
separate parameter and turns must alternate starting with a user turn, so the
conversation is normalised here rather than rejected by the API with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

import anthropic
import httpx

from app.llm.base import (
    ChatRequest,
    ChatTurn,
    Completion,
    ProviderError,
    StreamChunk,
    ToolCall,
    Usage,
    call_timeout,
)
from app.llm.event_stream import data_lines, read_to_end
from app.llm.sdk_errors import bad_response, map_sdk_error

# Stop reasons mapped onto the OpenAI-style finish_reason the rest of the app uses.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}

# Sent as the first turn when a conversation starts with the assistant (e.g. a stored
# greeting): the API rejects that, and dropping the greeting would lose context.
LEADING_USER_PLACEHOLDER = "(conversation start)"


def build_messages(request: ChatRequest) -> tuple[str, list[dict[str, Any]]]:
    """System text and alternating user/assistant messages for the Messages API.

    ``system`` turns are appended to the system prompt; empty turns are dropped (the
    API rejects empty text); consecutive same-role turns are joined with a blank line.
    """
    system_parts = [request.system_prompt] if request.system_prompt.strip() else []
    turns: list[ChatTurn] = []
    for turn in request.messages:
        if turn.role == "system":
            if turn.content.strip():
                system_parts.append(turn.content)
        elif turn.content.strip():
            turns.append(turn)

    messages: list[dict[str, Any]] = []
    for turn in turns:
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"] += "\n\n" + turn.content
        else:
            messages.append({"role": turn.role, "content": turn.content})
    if messages and messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": LEADING_USER_PLACEHOLDER})
    for tool_round in request.rounds:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": tool_round.text}]
        if not tool_round.text:
            blocks = []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _input_of(c.arguments)}
            for c in tool_round.calls
        ]
        messages.append({"role": "assistant", "content": blocks})
        results = [
            {
                "type": "tool_result",
                "tool_use_id": r.call_id,
                "content": r.content,
                "is_error": r.is_error,
            }
            for r in tool_round.results
        ]
        messages.append({"role": "user", "content": results})
    return "\n\n".join(system_parts), messages


def _input_of(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object Anthropic wants back (they came from it)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class AnthropicProvider:
    """Chat via ``POST {base_url}/v1/messages``."""

    name = "anthropic"

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
        # An explicit api_key also stops the SDK from reading ANTHROPIC_AUTH_TOKEN or
        # credential profiles from the environment.
        self._client: anthropic.Anthropic | None = (
            anthropic.Anthropic(
                api_key=api_key,
                base_url=self.base_url,
                timeout=timeout,
                max_retries=0,
                http_client=http_client,
            )
            if api_key
            else None
        )

    def _require_client(self) -> anthropic.Anthropic:
        if self._client is None:
            raise ProviderError.not_configured("anthropic", "ANTHROPIC_API_KEY")
        return self._client

    @staticmethod
    def _params(request: ChatRequest) -> dict[str, Any]:
        system, messages = build_messages(request)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            # Anthropic accepts 0..1 (OpenAI 0..2): clamp instead of failing every call.
            "temperature": min(max(request.temperature, 0.0), 1.0),
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        return params

    def _post(self, request: ChatRequest, timeout: float | None, stream: bool) -> httpx.Response:
        """``POST /v1/messages`` through the SDK's generic ``post``: the SDK adds auth,
        its version header, the base URL and the timeout, and raises its typed errors for
        a failed status; the answer is read as JSON here (``messages.create`` would walk
        the endpoint's parameter types to transform plain values and build typed objects
        of the answer: the same cost as OpenAI's, docs/decisions.md)."""
        body = self._params(request)
        if stream:
            body["stream"] = True
        return self._require_client().post(
            "/v1/messages",
            cast_to=httpx.Response,
            body=body,
            options={"timeout": call_timeout(self.timeout, timeout)},
            stream=stream,
        )

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        try:
            message = self._post(request, timeout, stream=False).json()
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            raise self._map_error(exc) from exc
        except ValueError as exc:  # not JSON
            raise bad_response("the provider returned a malformed response") from exc
        try:
            blocks = message.get("content") or []
            content = "".join(str(b["text"]) for b in blocks if b.get("type") == "text")
            calls = [
                ToolCall(id=str(b["id"]), name=str(b["name"]), arguments=json.dumps(b["input"]))
                for b in blocks
                if b.get("type") == "tool_use"
            ]
            usage = _usage(message.get("usage"))
            model = str(message.get("model") or request.model)
            finish_reason = _finish_reason(message.get("stop_reason"))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise bad_response("the provider returned a malformed response") from exc
        if not content and not calls:
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
        """The events are read as JSON (the SDK's typed events cost ~14 us a token)."""
        reader = _StreamReader()
        response: httpx.Response | None = None
        try:
            response = self._post(request, timeout, stream=True)
            for event in _events(response.iter_lines(), response.request):
                text = reader.read(event)
                if text:
                    yield StreamChunk(delta=text)
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            # httpx errors raised while iterating the body are not wrapped by the SDK.
            raise self._map_error(exc) from exc
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise bad_response("the provider sent a malformed stream") from exc
        finally:
            if response is not None:
                response.close()  # a caller gone mid-stream: the upstream request ends too
        calls = reader.calls()
        if not reader.got_text and not calls:
            raise bad_response("the provider returned an empty reply")
        yield StreamChunk(
            usage=_usage(reader.usage),
            finish_reason=_finish_reason(reader.stop_reason),
            tool_calls=calls,
        )

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_sdk_error(anthropic, "anthropic", self.timeout, exc)


def _events(lines: Iterator[str], request: httpx.Request) -> Iterator[dict[str, Any]]:
    """The JSON objects of a Messages event stream, up to ``message_stop``. An ``error``
    event (a failure after the 200: overloaded mid-reply) raises ``anthropic.APIError``."""
    for data in data_lines(lines):
        event = json.loads(data)
        if not isinstance(event, dict):
            raise TypeError("a stream event is not an object")
        if event.get("type") == "error":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            raise anthropic.APIError(str(message or "the stream failed"), request, body=error)
        if event.get("type") == "message_stop":
            read_to_end(lines)
            return
        yield event


class _StreamReader:
    """What a Messages stream says, event by event: the text (returned as it comes), the
    tool calls (their input's JSON arrives in pieces), the usage and the stop reason."""

    def __init__(self) -> None:
        self.got_text = False
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self._calls: dict[int, dict[str, str]] = {}  # by block index: id, name, input so far

    def read(self, event: dict[str, Any]) -> str:
        kind = event.get("type")
        if kind == "message_start":
            self.usage.update(event["message"].get("usage") or {})
        elif kind == "message_delta":
            self.usage.update(event.get("usage") or {})  # output_tokens so far
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
        elif kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") == "tool_use":
                call = {"id": str(block["id"]), "name": str(block["name"]), "input": ""}
                self._calls[int(event["index"])] = call
            elif block.get("type") == "text" and block.get("text"):
                return self._text(block["text"])
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                return self._text(delta.get("text") or "")
            if delta.get("type") == "input_json_delta":
                self._calls[int(event["index"])]["input"] += str(delta.get("partial_json") or "")
        return ""

    def _text(self, text: str) -> str:
        self.got_text = self.got_text or bool(text)
        return str(text)

    def calls(self) -> list[ToolCall]:
        """The tool calls, their input as the JSON text it came in (an empty input is
        ``{}``), like OpenAI's arguments: the tool loop validates it."""
        return [
            ToolCall(id=c["id"], name=c["name"], arguments=c["input"] or "{}")
            for _, c in sorted(self._calls.items())
        ]


def _usage(raw: Any) -> Usage:
    """Usage from an answer's or the stream's ``usage`` object (None: not reported)."""
    if not isinstance(raw, dict):
        return Usage()
    # Cached prompt tokens are reported separately but are still prompt tokens.
    prompt = (
        (raw.get("input_tokens") or 0)
        + (raw.get("cache_creation_input_tokens") or 0)
        + (raw.get("cache_read_input_tokens") or 0)
    )
    return Usage(prompt_tokens=int(prompt), completion_tokens=int(raw.get("output_tokens") or 0))


def _finish_reason(stop_reason: str | None) -> str:
    if not stop_reason:
        return "stop"
    return FINISH_REASONS.get(stop_reason, stop_reason)
