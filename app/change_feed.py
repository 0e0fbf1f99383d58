"""PostgreSQL's word that a client's chat settings changed, so a web worker may keep them.

Every statement that changes what a chat reads of its client (its row, its account, its
model, its provider connection, its plugins, the routing stamp) ends with a notification
on :data:`CHANNEL` (triggers of migration 0024, delivered at commit, whichever process or
tool committed). A :class:`ChangeFeed` holds one connection of its own that LISTENs there
and counts: :attr:`ChangeFeed.generation` moves on every notification and on every
(re)connection. A cache keyed by that generation never serves an entry older than the
last change it was told of; while the feed is not :attr:`ChangeFeed.live` (not started,
reconnecting, a database without the triggers, SQLite) there is nothing to trust and the
cache reads every time, as without it.

It runs in a daemon thread: a greenlet under gunicorn's gevent workers (psycopg waits
cooperatively there), started once per worker by ``gunicorn.conf.py``.
"""

from __future__ import annotations

import threading

import psycopg
from sqlalchemy import make_url

from app.logging_setup import get_logger

CHANNEL = "chatdock_chat_settings"
APPLICATION_NAME = "chatdock-change-feed"  # its session in pg_stat_activity
TRIGGER_FUNCTION = "chatdock_notify_chat_settings"
# A query this often on an idle feed: a server gone silently is noticed within it.
HEARTBEAT_SECONDS = 15.0
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)

log = get_logger("chatdock.change_feed")


def listen_conninfo(database_url: str) -> str | None:
    """libpq's form of a SQLAlchemy PostgreSQL URL (None for any other database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeFeed:
    """Counts the notifications on :data:`CHANNEL` seen by one LISTEN connection."""

    def __init__(self, conninfo: str, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self._conninfo = conninfo
        self._heartbeat = heartbeat_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.live = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening (within one heartbeat); the feed is no longer live at once."""
        self.live = False
        self.generation += 1
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._heartbeat + 5)

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=10,
                    application_name=APPLICATION_NAME,
                ) as conn:
                    attempt = 0 if self._listen(conn) else attempt
            except psycopg.Error as error:
                # The error's class only: its text may quote the connection string.
                log.warning("change_feed_disconnected", error=type(error).__name__)
            finally:
                self.live = False
                self.generation += 1
            self._stopping.wait(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1

    def _listen(self, conn: psycopg.Connection) -> bool:
        """LISTEN, then count until told to stop; False when the database has no triggers
        (nothing to listen for: chat settings are then read per request)."""
        conn.execute(f"LISTEN {CHANNEL}")
        installed = conn.execute(
            "SELECT 1 FROM pg_proc WHERE proname = %s", (TRIGGER_FUNCTION,)
        ).fetchone()
        if installed is None:
            log.warning("change_feed_without_triggers", hint="run flask db upgrade")
            return False
        # From here on every change is heard: whatever was cached before is not trusted.
        self.generation += 1
        self.live = True
        log.info("change_feed_listening")
        while not self._stopping.is_set():
            for _notification in conn.notifies(timeout=self._heartbeat):
                self.generation += 1
            conn.execute("SELECT 1")  # a server gone away fails here, within a heartbeat
        return True
