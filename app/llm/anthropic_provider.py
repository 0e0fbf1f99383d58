"""Adapter for Anthropic's Messages API.

Uses the official ``anthropic`` SDK with retries off (the chat endpoint owns failure
policy). The Messages API is stricter than Chat Completions: the system prompt is a
separate parameter and turns must alternate starting with a user turn, so the
conversation is normalised here rather than rejected by the API with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Generator
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

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        client = self._require_client()
        try:
            message = client.messages.create(
                **self._params(request), timeout=call_timeout(self.timeout, timeout)
            )
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            raise self._map_error(exc) from exc
        try:
            content = _text_of(message)
            usage = _usage(message.usage)
            model = message.model or request.model
            finish_reason = _finish_reason(message.stop_reason)
            calls = _calls_of(message)
        except (AttributeError, TypeError) as exc:
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
        client = self._require_client()
        got_text = False
        try:
            with client.messages.stream(
                **self._params(request), timeout=call_timeout(self.timeout, timeout)
            ) as events:
                for text in events.text_stream:
                    if text:
                        got_text = True
                        yield StreamChunk(delta=text)
                final = events.get_final_message()
            usage = _usage(final.usage)
            finish_reason = _finish_reason(final.stop_reason)
            calls = _calls_of(final)
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            # httpx errors raised while iterating the body are not wrapped by the SDK.
            raise self._map_error(exc) from exc
        except (AttributeError, TypeError) as exc:
            raise bad_response("the provider sent a malformed stream") from exc
        if not got_text and not calls:
            raise bad_response("the provider returned an empty reply")
        yield StreamChunk(usage=usage, finish_reason=finish_reason, tool_calls=calls)

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_sdk_error(anthropic, "anthropic", self.timeout, exc)


def _text_of(message: Any) -> str:
    """Concatenated text blocks; other block types (thinking, tool_use) are skipped."""
    return "".join(
        block.text for block in message.content or [] if getattr(block, "type", None) == "text"
    )


def _calls_of(message: Any) -> list[ToolCall]:
    """The message's tool_use blocks as calls (arguments as JSON text, like OpenAI's)."""
    return [
        ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input or {}))
        for block in message.content or []
        if getattr(block, "type", None) == "tool_use"
    ]


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    # Cached prompt tokens are reported separately but are still prompt tokens.
    prompt = (
        (raw.input_tokens or 0)
        + (getattr(raw, "cache_creation_input_tokens", None) or 0)
        + (getattr(raw, "cache_read_input_tokens", None) or 0)
    )
    return Usage(prompt_tokens=int(prompt), completion_tokens=int(raw.output_tokens or 0))


def _finish_reason(stop_reason: str | None) -> str:
    if not stop_reason:
        return "stop"
    return FINISH_REASONS.get(stop_reason, stop_reason)
