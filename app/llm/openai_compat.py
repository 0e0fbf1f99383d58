"""Adapter for OpenAI's Chat Completions API and compatible servers (Ollama, vLLM, ...).

Uses the official ``openai`` SDK with retries off: the chat endpoint decides what a
failure means for the caller, and a retrying SDK would silently multiply latency
past the configured timeout.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import openai

from app.llm.base import ChatRequest, Completion, ProviderError, StreamChunk, Usage, call_timeout
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
        messages: list[dict[str, str]] = []
        if request.system_prompt:
            messages.append({"role": "system", "content": request.system_prompt})
        messages.extend({"role": t.role, "content": t.content} for t in request.messages)
        return {
            "model": request.model,
            "messages": messages,
            "temperature": request.temperature,
            # max_tokens rather than max_completion_tokens: compatible servers know it.
            "max_tokens": request.max_tokens,
        }

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        client = self._require_client()
        try:
            response = client.chat.completions.create(
                **self._params(request), timeout=call_timeout(self.timeout, timeout)
            )
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._map_error(exc) from exc
        try:
            choice = response.choices[0]
            content = choice.message.content
            model = response.model or request.model
            usage = _usage(response.usage)
            finish_reason = choice.finish_reason or "stop"
        except (AttributeError, IndexError, TypeError) as exc:
            # The SDK does not validate bodies: a non-JSON answer comes back as a str
            # and a JSON object of the wrong shape lacks attributes.
            raise bad_response("the provider returned a malformed response") from exc
        if not isinstance(content, str) or not content:
            raise bad_response("the provider returned an empty reply")
        return Completion(content=content, model=model, usage=usage, finish_reason=finish_reason)

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]:
        client = self._require_client()
        usage: Usage | None = None
        finish_reason: str | None = None
        got_text = False
        try:
            chunks = client.chat.completions.create(
                **self._params(request),
                timeout=call_timeout(self.timeout, timeout),
                stream=True,
                stream_options={"include_usage": True},
            )
            with chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    # The final usage chunk has no choices; we ask for one choice only.
                    for choice in chunk.choices or []:
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                        text = choice.delta.content if choice.delta else None
                        if text:
                            got_text = True
                            yield StreamChunk(delta=text)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            # httpx errors raised while iterating the body are not wrapped by the SDK.
            raise self._map_error(exc) from exc
        except (AttributeError, TypeError) as exc:
            raise bad_response("the provider sent a malformed stream") from exc
        if not got_text:
            raise bad_response("the provider returned an empty reply")
        yield StreamChunk(usage=usage, finish_reason=finish_reason or "stop")

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_sdk_error(openai, "openai", self.timeout, exc)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(
        prompt_tokens=int(raw.prompt_tokens or 0), completion_tokens=int(raw.completion_tokens or 0)
    )
