"""A web worker keeps its clients' chat settings while PostgreSQL announces no change
(app.change_feed, the triggers of migration 0024): every change a chat reads is heard,
whoever commits it; a chat after it answers with the new settings; a feed that cannot
hear (no triggers, its connection lost) is not trusted. A chat on kept settings needs no
read: its turn is written by one statement on a pooled connection of its own
(``app.extensions.execute_autocommit``), and a database that dropped its connections
answers as any statement's failure does: 503 and retry, then fresh connections serve."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from flask import Flask
from sqlalchemy import event, func, make_url, select, text

from app.change_feed import APPLICATION_NAME, ChangeFeed, listen_conninfo
from app.extensions import db, in_transaction
from app.llm.catalog import Model
from app.models import ChatMessage, ChatSession
from app.services.chat_settings import CHAT_SETTINGS, ChatSettingsCache
from tests.catalog_support import sync, with_echo_models
from tests.conftest import host_of, on_own_connection
from tests.infra.test_faults import poll
from tests.live import gunicorn, shipped_env
from tests.test_database_busy import postgresql_write_lock

pytestmark = pytest.mark.postgresql_only  # LISTEN/NOTIFY: SQLite has no feed

BEFORE = with_echo_models(Model("echo-1", 1000, is_default=True), Model("echo-0", 1000))
AFTER = with_echo_models(
    Model("echo-1", 1000, is_default=True),
    Model("echo-0", 1000, deprecated=True, replacement="echo-1"),
)


def start_feed(database_url: str) -> ChangeFeed:
    conninfo = listen_conninfo(database_url)
    assert conninfo is not None
    feed = ChangeFeed(conninfo, heartbeat_seconds=0.5)
    feed.start()
    return feed


@pytest.fixture
def feed(app: Flask, migrated: str) -> Iterator[ChangeFeed]:
    """The app's settings cache, fed as a gunicorn worker's is."""
    cache: ChatSettingsCache = app.extensions[CHAT_SETTINGS]
    cache.feed = start_feed(migrated)
    assert poll(lambda: cache.feed is not None and cache.feed.live, 15, 0.02), "the feed to listen"
    yield cache.feed
    cache.feed.stop()


@pytest.fixture
def settings_reads(app: Flask) -> Iterator[list[str]]:
    """The chat settings queries run (the one Core query of app.services.chat_settings)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM llm_clients JOIN accounts" in statement and "routing_version" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def chat(http, client) -> object:
    return chat_on(http, host_of(client))


def chat_on(http, host: str) -> object:
    return http.post(
        "/llm-client/",
        data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
        content_type="application/json",
        headers={"Host": host},
    )


def heard_after(feed: ChangeFeed, change: Callable[[], None]) -> bool:
    """Whether the feed hears of ``change`` (made and committed by the caller)."""
    before = feed.generation
    change()
    return poll(lambda: feed.generation != before, 10, 0.02)


def in_another_process_like_connection(database_url: str, sql: str, commit: bool = True):
    """Run ``sql`` on a connection of its own (as the CLI or another pod would)."""
    return lambda: on_own_connection(database_url, sql, commit=commit)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE llm_clients SET temperature = temperature",
        "UPDATE accounts SET monthly_token_budget = monthly_token_budget",
        "UPDATE llm_models SET deprecated = deprecated",
        "DELETE FROM provider_connections WHERE false",
        "DELETE FROM client_plugins WHERE false",
        "UPDATE routing_version SET version = version + 1",
    ],
    ids=["client", "account", "model", "connection", "plugins", "routing"],
)
def test_every_change_a_chat_reads_is_announced(feed, migrated, sql):
    assert heard_after(feed, in_another_process_like_connection(migrated, sql))


def test_a_change_rolled_back_is_not_announced(feed, migrated):
    sql = "UPDATE accounts SET monthly_token_budget = monthly_token_budget"
    before = feed.generation
    in_another_process_like_connection(migrated, sql, commit=False)()
    time.sleep(1)
    assert feed.generation == before
    assert heard_after(feed, in_another_process_like_connection(migrated, sql))


def test_settings_are_kept_until_a_change_is_announced(
    http, feed, settings_reads, account, make_client
):
    sync(BEFORE)
    client = make_client(account, "kept", model="echo-0")
    for _ in range(3):
        answer = chat(http, client)
        assert answer.status_code == 200
        assert "X-Chatdock-Warning" not in answer.headers
    assert len(settings_reads) == 1  # read once, then kept

    assert heard_after(feed, lambda: sync(AFTER))  # the operator deprecates echo-0
    answer = chat(http, client)
    assert answer.status_code == 200
    assert answer.headers["X-Chatdock-Warning"] == "model echo-0 is deprecated; use echo-1"
    assert len(settings_reads) == 2


def test_without_a_feed_settings_are_read_on_every_chat(http, settings_reads, demo):
    for _ in range(3):
        assert chat(http, demo).status_code == 200
    assert len(settings_reads) == 3


def test_a_kept_copy_older_than_the_index_is_read_again(
    app, http, feed, settings_reads, demo, migrated
):
    """The index saw a new stamp before the feed told the cache (here: the stamp's
    trigger is off): the chat reads its settings again, and answers."""
    assert chat(http, demo).status_code == 200
    db.session.execute(
        text("ALTER TABLE routing_version DISABLE TRIGGER routing_version_chat_settings_changed")
    )
    db.session.execute(text("UPDATE routing_version SET version = version + 1"))
    db.session.commit()
    try:
        app.extensions["chatdock.hosts"].index(db.session, force=True)
        answer = chat(http, demo)
    finally:
        db.session.execute(
            text("ALTER TABLE routing_version ENABLE TRIGGER routing_version_chat_settings_changed")
        )
        db.session.commit()
    assert answer.status_code == 200, answer.json
    assert len(settings_reads) == 2


def test_a_feed_on_a_database_without_the_triggers_is_not_trusted(scratch_database_url):
    feed = start_feed(scratch_database_url)  # an empty database: nothing announces changes
    try:
        assert poll(lambda: feed.generation > 0, 15, 0.02), "the feed to connect"
        assert not feed.live
    finally:
        feed.stop()


def test_a_feed_that_loses_its_connection_is_not_trusted_until_it_listens_again(feed, migrated):
    def terminate() -> None:
        on_own_connection(
            migrated,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()",
            {"name": APPLICATION_NAME},
        )

    before = feed.generation
    terminate()
    assert poll(lambda: not feed.live, 15, 0.02), "the feed to notice"
    assert feed.generation > before  # what was kept is dropped
    assert poll(lambda: feed.live, 15, 0.02), "a new feed"
    sql = "UPDATE accounts SET monthly_token_budget = monthly_token_budget"
    assert heard_after(feed, in_another_process_like_connection(migrated, sql))


def _feed_sessions(database_url: str) -> list[int]:
    """The backend pids of the change feeds listening on the database."""
    rows = on_own_connection(
        database_url,
        "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
        "AND datname = current_database()",
        {"name": APPLICATION_NAME},
    )
    return [pid for (pid,) in rows]


def test_the_shipped_server_answers_with_a_change_committed_elsewhere(
    app, migrated, account, make_client
):
    """gunicorn as shipped (a gevent worker's feed): a model deprecated by another
    process shows in the server's next chats, also after its feed lost its connection."""
    sync(BEFORE)
    client = make_client(account, "shipped", model="echo-0")
    url = f"/api/v0/llm-clients/{client.id}/{client.name}/"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    db.session.close()
    env = shipped_env(migrated, CHAT_LIMITS_ENABLED="false")

    def warned(http: httpx.Client) -> bool:
        answer = http.post(url, json=body)
        assert answer.status_code == 200, answer.text
        return "X-Chatdock-Warning" in answer.headers

    with (
        gunicorn(env, workers=1) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert poll(lambda: len(_feed_sessions(migrated)) == 1, 15, 0.02), "the worker's feed"
        assert not warned(http)
        assert not warned(http)  # kept: the same answer from the worker's copy
        sync(AFTER)
        assert poll(lambda: warned(http), 15, 0.02), "the deprecation to show"

        lost = _feed_sessions(migrated)
        on_own_connection(migrated, "SELECT pg_terminate_backend(:pid)", {"pid": lost[0]})
        assert poll(lambda: _feed_sessions(migrated) not in ([], lost), 15, 0.02), "a new feed"
        sync(BEFORE)
        assert poll(lambda: not warned(http), 15, 0.02), "the change after it"


# --- the turn's write on kept settings ---------------------------------------------------


def stored() -> tuple[int, int]:
    db.session.expire_all()
    sessions = db.session.execute(select(func.count(ChatSession.id))).scalar_one()
    messages = db.session.execute(select(func.count(ChatMessage.id))).scalar_one()
    db.session.commit()
    return sessions, messages


def drop_pooled_connections(database_url: str) -> int:
    """What a database restart does to the pool's idle connections (the feed's own
    connection is spared: its loss is tested above)."""
    [(dropped,)] = on_own_connection(
        database_url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name <> :feed AND state = 'idle'",
        {"feed": APPLICATION_NAME},
    )
    return int(dropped)


def test_a_chat_on_kept_settings_stores_its_turn_without_a_transaction(
    http, feed, settings_reads, demo
):
    host = host_of(demo)
    for _ in range(3):
        answer = chat_on(http, host)
        assert answer.status_code == 200, answer.json
        assert not in_transaction()  # nothing of the chat's left open in the session
    assert len(settings_reads) == 1  # read once: the other two wrote on their own
    assert stored() == (3, 6)  # a session, the question and the reply, each time


def test_connections_dropped_under_a_kept_chat_are_a_503_then_fresh_ones_serve(
    http, feed, settings_reads, demo, migrated
):
    host = host_of(demo)  # read now: the test's own connection is dropped too
    assert chat_on(http, host).status_code == 200
    with db.engine.connect() as one, db.engine.connect() as two, db.engine.connect() as three:
        for connection in (one, two, three):  # the pool holds several idle connections
            connection.exec_driver_sql("SELECT 1")
    assert drop_pooled_connections(migrated) >= 3
    failed = chat_on(http, host)
    assert failed.status_code == 503, failed.json
    assert failed.json["error"]["code"] == "database_busy"
    assert failed.headers["Retry-After"]
    answer = chat_on(http, host)  # the pool was renewed: no second dead connection
    assert answer.status_code == 200, answer.json
    assert len(settings_reads) == 1  # all three chats on the kept settings
    assert stored() == (2, 4)  # the failed turn stored nothing


def test_a_kept_chat_whose_write_meets_a_lock_is_a_503_and_pools_no_autocommit_connection(
    http, feed, settings_reads, demo, migrated
):
    host = host_of(demo)
    assert chat_on(http, host).status_code == 200
    with postgresql_write_lock(make_url(migrated)):  # lock_timeout: new connections' only
        db.engine.dispose()
        failed = chat_on(http, host)
    assert failed.status_code == 503, failed.json
    assert failed.json["error"]["code"] == "database_busy"
    pooled = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
    try:
        assert not any(c.driver_connection.autocommit for c in pooled)  # a session's
    finally:  # transaction on one of them is a transaction
        for connection in pooled:
            connection.close()
    assert chat_on(http, host).status_code == 200
    assert len(settings_reads) == 1
    assert stored() == (2, 4)
