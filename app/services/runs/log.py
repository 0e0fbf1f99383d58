"""A run's log kept on its row: what the console and ``flask runs logs`` show while the
run goes on.

The log is written on a connection of its own, in its own short transactions, never
through the job's session: a flush must not commit the job's unit of work half-way (a
run's status and its client's state commit together, ``runs.set_status``). While the
job's open transaction holds the run's row (PostgreSQL) or the write lock (SQLite), a
flush does not wait for it (that would wait for ourselves): the lines stay buffered and
go with a later flush, at the latest with ``RunLog.close()`` once the job committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, update
from sqlalchemy.exc import OperationalError

from app.config import current_settings
from app.extensions import db
from app.infra.run_log import RunLog, Writer
from app.models import InfraRun

# How long a flush that may give up waits for a row or database lock.
BUSY_WAIT_MS = 200
_PG_LOCK_NOT_AVAILABLE = "55P03"


def append_to_run(run_id: int) -> Writer:
    """A writer that appends a chunk with one UPDATE ... SET log = log || chunk, in a
    transaction of its own; False when it gave up on a busy row (``wait`` False)."""

    def write(chunk: str, wait: bool) -> bool:
        statement = (
            update(InfraRun).where(InfraRun.id == run_id).values(log=InfraRun.log.concat(chunk))
        )
        try:
            with db.engine.connect() as connection, _waiting(connection, wait):
                connection.execute(statement)
                connection.commit()
        except OperationalError as error:
            if wait or not _busy(error):
                raise
            return False
        return True

    return write


@contextmanager
def _waiting(connection: Connection, wait: bool) -> Iterator[None]:
    """Unless ``wait``: give up on a lock after BUSY_WAIT_MS instead of the usual wait."""
    if wait:
        yield
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{BUSY_WAIT_MS}ms'")
        yield
    elif dialect == "sqlite":
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_WAIT_MS}")
        try:
            yield
        finally:
            usual = int(current_settings().SQLITE_BUSY_TIMEOUT_SECONDS * 1000)
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {usual}")
    else:
        yield


def _busy(error: OperationalError) -> bool:
    """The write gave up on a lock held by another transaction (the job's own)."""
    if getattr(error.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(error.orig)


def run_log(run_id: int, *, echo: bool = True) -> RunLog:
    """The log of run ``run_id``, written to its row."""
    return RunLog(run_id, append_to_run(run_id), echo=echo)
