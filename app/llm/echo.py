"""An offline, deterministic provider.

It lets the whole chat path (API, storage, streaming, usage accounting) run in
development and tests without network access or API keys, and its two magic
messages let tests exercise the endpoint's error handling end to end.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from app.llm.base import ChatRequest, Completion, ProviderError, StreamChunk, ToolCall, Usage

ERROR_TRIGGER = "__echo_error__"
TIMEOUT_TRIGGER = "__echo_timeout__"
# "/tool NAME {json}" lines of the last user message: the calls of the first round (then
# the reply echoes the results). "/tool-loop NAME {json}": the call again every round.
_TOOL_LINE = re.compile(r"^/tool(-loop)? +([^ ]+) *(.*)$", re.MULTILINE)

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

    def _reply(self, request: ChatRequest) -> tuple[str, Usage, str, list[ToolCall]]:
        """Content, usage and finish_reason shared by complete() and stream()."""
        last_user = next((t.content for t in reversed(request.messages) if t.role == "user"), "")
        if last_user == ERROR_TRIGGER:
            raise ProviderError("provider_error", "echo provider failed on request", 502)
        if last_user == TIMEOUT_TRIGGER:
            raise ProviderError("provider_timeout", "echo provider timed out", 504)

        calls = _TOOL_LINE.findall(last_user)
        if calls and request.tools and (not request.rounds or any(lp for lp, _, _ in calls)):
            tool_calls = [
                ToolCall(id=f"call_{len(request.rounds)}_{i}", name=name, arguments=args or "{}")
                for i, (_, name, args) in enumerate(calls)
            ]
            usage = Usage(prompt_tokens=_prompt_tokens(request), completion_tokens=len(calls))
            return "", usage, "tool_calls", tool_calls
        if calls and request.rounds:  # the tools ran: echo what they gave back
            content = "echo: " + "\n".join(
                f"{r.name} -> {r.content}" for r in request.rounds[-1].results
            )
        else:
            content = "echo: " + last_user
        finish_reason = "stop"
        limit = max(request.max_tokens, 0)
        words = list(_WORD_END.finditer(content))
        if len(words) > limit:
            # Cut right after the limit-th word so the kept text is byte-identical.
            content = content[: words[limit - 1].end()] if limit else ""
            finish_reason = "length"

        usage = Usage(prompt_tokens=_prompt_tokens(request), completion_tokens=count_words(content))
        return content, usage, finish_reason, []

    def complete(self, request: ChatRequest, timeout: float | None = None) -> Completion:
        content, usage, finish_reason, calls = self._reply(request)
        return Completion(
            content=content,
            model=request.model,
            usage=usage,
            finish_reason=finish_reason,
            tool_calls=calls,
        )

    def stream(
        self, request: ChatRequest, timeout: float | None = None
    ) -> Generator[StreamChunk, None, None]:
        # A generator like the real adapters: errors surface at the first next().
        content, usage, finish_reason, calls = self._reply(request)
        for piece in _PIECE.findall(content):
            yield StreamChunk(delta=piece)
        yield StreamChunk(usage=usage, finish_reason=finish_reason, tool_calls=calls)


def _prompt_tokens(request: ChatRequest) -> int:
    return (
        count_words(request.system_prompt)
        + sum(count_words(t.content) for t in request.messages)
        + sum(count_words(r.content) for turn in request.rounds for r in turn.results)
    )
