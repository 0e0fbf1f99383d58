"""A database held locked by another writer past the busy timeout answers 503 with
``Retry-After`` and the JSON error body, not a 500 (issue 21, item 14): through the
management API and the chat API."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import URL, create_engine, func, make_url, select

from app.extensions import db
from app.models import LlmClient
from app.services import tokens
from app.services.users import set_user
from tests.conftest import host_of

CHAT = {"messages": [{"role": "user", "content": "ping"}]}


@contextlib.contextmanager
def _sqlite_write_lock(url: URL) -> Iterator[None]:
    """Another connection (a CLI command, a migration) holding SQLite's write lock."""
    connection = sqlite3.connect(url.database or "", isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE accounts SET name = name")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


@contextlib.contextmanager
def postgresql_write_lock(url: URL) -> Iterator[None]:
    """Another transaction holding every table against writes (reads go on), and the
    database's lock_timeout short, so that a writer gets lock_not_available."""
    engine = create_engine(url)
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    try:
        with engine.connect() as connection:
            name = connection.exec_driver_sql("SELECT current_database()").scalar()
            connection.exec_driver_sql(f"ALTER DATABASE {name} SET lock_timeout = '100ms'")
            connection.commit()
            connection.exec_driver_sql(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
            yield
            connection.rollback()
            connection.exec_driver_sql(f"ALTER DATABASE {name} RESET lock_timeout")
            connection.commit()
    finally:
        engine.dispose()


@pytest.fixture
def busy_app(make_app, migrated: str) -> Iterator[Flask]:
    """An app on a database another writer holds locked past the wait (SQLite's busy
    timeout, PostgreSQL's lock_timeout)."""
    url = make_url(migrated)
    if url.get_backend_name() == "sqlite":
        with _sqlite_write_lock(url):
            yield make_app(SQLITE_BUSY_TIMEOUT_SECONDS=0.1)
    else:
        with postgresql_write_lock(url):
            yield make_app()


def _assert_busy(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == "2"
    assert response.get_json() == {
        "error": {"code": "database_busy", "message": "the database is busy: retry shortly"}
    }


def test_a_locked_database_answers_503_with_retry_after(request, account, demo):
    user, _ = set_user("member@acme.test", "correct horse battery", platform_admin=True)
    token = tokens.create_token(user).plaintext
    http = request.getfixturevalue("busy_app").test_client()
    created = http.post(
        f"/api/v1/accounts/{account.id}/clients",
        json={"name": "helper"},
        headers={"Authorization": f"Bearer {token}", "Host": "localhost"},
    )
    _assert_busy(created)
    _assert_busy(http.post("/llm-client/", json=CHAT, headers={"Host": host_of(demo)}))
    assert http.get("/healthz").status_code == 200
    assert db.session.execute(select(func.count(LlmClient.id))).scalar_one() == 1


@pytest.mark.postgresql_only  # SQLite's pool is not sized by these settings
def test_no_free_pooled_connection_is_a_503_not_a_500(make_app, account, make_client):
    """A burst that takes every pooled connection: the next request waits its turn for
    DATABASE_POOL_TIMEOUT_SECONDS, then is told to retry."""
    client = make_client(account, "pooled")
    path = f"/api/v0/llm-clients/{client.id}/{client.name}/"
    app = make_app(DATABASE_POOL_SIZE=1, DATABASE_MAX_OVERFLOW=0, DATABASE_POOL_TIMEOUT_SECONDS=0.2)
    with app.app_context(), db.engine.connect() as held:
        held.exec_driver_sql("SELECT 1")
        answer = app.test_client().post(path, json=CHAT)
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "database_busy"
    assert answer.headers["Retry-After"]


@pytest.mark.postgresql_only  # SQLite stores a NUL; PostgreSQL text cannot
def test_a_nul_that_reaches_a_query_is_the_callers_400(make_app):
    """Whatever route lets a NUL through to the database answers 400, never a 500."""
    from sqlalchemy import text

    from app.extensions import db

    app = make_app()

    @app.get("/nul-probe")
    def nul_probe() -> str:
        db.session.execute(text("SELECT CAST(:value AS text)"), {"value": "a\x00b"})
        return "stored"

    answer = app.test_client().get("/nul-probe", headers={"Host": "localhost"})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "invalid_request"
