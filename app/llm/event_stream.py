"""Reading a provider's Server-Sent Events body line by line, for both adapters.

The SDKs' own readers build a typed object per event (the cost per token is in
docs/decisions.md) and stop at the stream's last event without reading the body's end,
so the connection was dropped rather than reused (with TLS, a handshake per stream)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

AFTER_END_LINES = 8  # a server that goes on after its last event is cut off, not read


def data_lines(lines: Iterator[str]) -> Iterator[str]:
    """The text of each ``data:`` line (blank separators, comments, event names skipped)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def read_to_end(lines: Iterator[str]) -> None:
    """After the last event: read the body's end (normally only the chunked terminator),
    so its connection goes back to the pool."""
    for _ in itertools.islice(lines, AFTER_END_LINES):
        pass
