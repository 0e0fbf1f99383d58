"""A run's log kept on its row: what the console and ``flask runs logs`` show while the
run goes on."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from app.extensions import db
from app.infra.run_log import RunLog
from app.models import InfraRun


def append_to_run(run_id: int) -> Callable[[str], None]:
    """A writer that appends a chunk with one UPDATE ... SET log = log || chunk, in its own
    short transaction."""

    def write(chunk: str) -> None:
        db.session.execute(
            update(InfraRun)
            .where(InfraRun.id == run_id)
            .values(log=InfraRun.log.concat(chunk))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    return write


def run_log(run_id: int, *, echo: bool = True) -> RunLog:
    """The log of run ``run_id``, written to its row."""
    return RunLog(run_id, append_to_run(run_id), echo=echo)
