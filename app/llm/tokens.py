"""A conservative token estimate, known before the provider answers.

The limits count a request's prompt when they admit it, and a stream cut by its caller
is charged for what it produced; neither has the provider's own count. No tokenizer is
shipped (their vocabularies are downloads), so the estimate errs high: one token per two
UTF-8 bytes (English averages about four bytes a token; a run of one-letter words or of
rare characters about two) plus a few tokens of framing per message.
"""

from __future__ import annotations

from collections.abc import Iterable

BYTES_PER_TOKEN = 2
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> int:
    """Tokens of ``text`` alone, rounded up (0 for an empty text)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return -(-size // BYTES_PER_TOKEN)


def estimate_prompt_tokens(texts: Iterable[str]) -> int:
    """Tokens of a prompt made of these messages (system prompt included)."""
    return sum(estimate_text_tokens(text) + TOKENS_PER_MESSAGE for text in texts)
