"""SQLite (the embedded default) with a slow writer: chat requests wait for the
writer's transaction instead of failing with "database is locked" (WAL mode, busy
timeout)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import make_url, text

from app.extensions import db
from tests.test_chat import post, user

pytestmark = pytest.mark.sqlite_only
HOLD_SECONDS = 6.0  # longer than the sqlite3 driver's default 5 s timeout


@pytest.fixture
def sqlite_path(migrated: str) -> str:
    url = make_url(migrated)
    assert url.get_backend_name() == "sqlite", "a test of SQLite's locking"
    return url.database


def test_the_database_runs_in_wal_mode(app, sqlite_path):
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_chat_waits_for_a_slow_writer_instead_of_failing(http, demo, sqlite_path):
    locked, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        """Another process's transaction (a CLI command, a migration) holding the write lock."""
        connection = sqlite3.connect(sqlite_path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("UPDATE accounts SET name = name")
        locked.set()
        release.wait(HOLD_SECONDS)
        connection.execute("COMMIT")
        connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        response = post(http, demo, {"messages": [user("still there?")]})
        waited = time.monotonic() - started
    finally:
        release.set()
        writer.join(timeout=30)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["reply"] == "echo: still there?"
    assert waited >= HOLD_SECONDS - 0.5  # it really met the writer's lock, and waited
