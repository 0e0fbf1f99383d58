"""An offline, deterministic provider.

It lets the whole chat path (API, storage, streaming, usage accounting) run in
development and tests without network access or API keys, and its two magic
messages let tests exercise the endpoint's error handling end to end.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from app.llm.base import ChatRequest, Completion, ProviderError, StreamChunk, Usage

ERROR_TRIGGER = "__echo_error__"
TIMEOUT_TRIGGER = "__echo_timeout__"

# A word with the whitespace after it, or leading whitespace on its own: the pieces
# concatenate back to the exact text, so streamed deltas equal the complete() reply.
_PIECE = re.compile(r"\S+\s*|\s+")
_WORD_END = re.compile(r"\S+")


def count_words(text: str) -> int:
    """Whitespace-separated words: the echo provider's notion of a token."""
    return len(text.split())


class EchoProvider:
    """Replies ``"echo: " + <last user message>``; counts words as tokens."""

    name = "echo"

    def _reply(self, request: ChatRequest) -> tuple[str, Usage, str]:
        """Content, usage and finish_reason shared by complete() and stream()."""
        last_user = next((t.content for t in reversed(request.messages) if t.role == "user"), "")
        if last_user == ERROR_TRIGGER:
            raise ProviderError("provider_error", "echo provider failed on request", 502)
        if last_user == TIMEOUT_TRIGGER:
            raise ProviderError("provider_timeout", "echo provider timed out", 504)

        content = "echo: " + last_user
        finish_reason = "stop"
        limit = max(request.max_tokens, 0)
        words = list(_WORD_END.finditer(content))
        if len(words) > limit:
            # Cut right after the limit-th word so the kept text is byte-identical.
            content = content[: words[limit - 1].end()] if limit else ""
            finish_reason = "length"

        prompt_tokens = count_words(request.system_prompt) + sum(
            count_words(t.content) for t in request.messages
        )
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=count_words(content))
        return content, usage, finish_reason

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        content, usage, finish_reason = self._reply(request)
        return Completion(
            content=content, model=request.model, usage=usage, finish_reason=finish_reason
        )

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]:
        # A generator like the real adapters: errors surface at the first next().
        content, usage, finish_reason = self._reply(request)
        for piece in _PIECE.findall(content):
            yield StreamChunk(delta=piece)
        yield StreamChunk(usage=usage, finish_reason=finish_reason)
