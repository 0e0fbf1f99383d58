"""A run's log: lines from terraform and the job, handed to a writer in chunks.

Lines are buffered and written at most every ``flush_seconds`` (and at the end), so a long
apply is visible while it runs without a write per line. Where the chunks go is the
caller's (``app.services.runs.log``: appended to the run's row). A writer may decline a
chunk for now (its destination is busy): the chunk stays buffered for the next flush,
and ``close()`` waits until it is written."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from app.logging_setup import get_logger

log = get_logger("chatdock.jobs")

# write(chunk, wait) -> whether the chunk was written; with ``wait`` it always is (or raises).
Writer = Callable[[str, bool], bool]


class RunLog:
    def __init__(
        self,
        run_id: int,
        write: Writer,
        *,
        echo: bool = True,
        flush_seconds: float = 1.0,
    ) -> None:
        self.run_id = run_id
        self.write = write
        self.echo = echo
        self.flush_seconds = flush_seconds
        self._buffer: list[str] = []
        self._flushed_at = time.monotonic()

    def __call__(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        self._buffer.append(f"{stamp} {line.rstrip()}\n")
        if self.echo:
            log.info("run_log", run_id=self.run_id, line=line.rstrip())
        if time.monotonic() - self._flushed_at >= self.flush_seconds:
            self.flush()

    def flush(self, *, wait: bool = False) -> None:
        """Hand the buffered lines to the writer (kept for later if it declines them)."""
        self._flushed_at = time.monotonic()
        if not self._buffer:
            return
        chunk = "".join(self._buffer)
        if self.write(chunk, wait):
            self._buffer = []
        else:
            self._buffer = [chunk]

    def close(self) -> None:
        """Write what is left, waiting if need be: called once the job committed."""
        self.flush(wait=True)
