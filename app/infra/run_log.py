"""A run's log: lines from terraform and the job, appended to the run row as they come.

Lines are buffered and flushed with one UPDATE ... SET log = log || chunk at most every
``flush_seconds`` (and at the end), so a long apply is visible while it runs without a
write per line.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import update

from app.extensions import db
from app.logging_setup import get_logger
from app.models import InfraRun

log = get_logger("chatdock.jobs")


class RunLog:
    def __init__(self, run_id: int, *, echo: bool = True, flush_seconds: float = 1.0) -> None:
        self.run_id = run_id
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

    def flush(self) -> None:
        """Append buffered lines in their own short transaction."""
        self._flushed_at = time.monotonic()
        if not self._buffer:
            return
        chunk, self._buffer = "".join(self._buffer), []
        db.session.execute(
            update(InfraRun)
            .where(InfraRun.id == self.run_id)
            .values(log=InfraRun.log.concat(chunk))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
