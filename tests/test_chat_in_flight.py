"""Chat at real model latency, against chatdock as shipped (gunicorn.conf.py, gevent):
one process holds hundreds of conversations at once, holds no database transaction while
the model answers, and a caller who hangs up mid-stream is still charged, once, for what
was produced.

The model is a loopback server speaking OpenAI's wire format, so the real SDK adapter
runs; for the in-flight tests it holds every request until all of them have arrived, so
they pass only if chatdock really has them in flight together.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis
from sqlalchemy import func, select

from app.change_feed import APPLICATION_NAME
from app.extensions import db
from app.models import ChatMessage, UsageDaily
from app.services import limit_settings, limits
from tests.conftest import on_own_connection
from tests.live import gunicorn, shipped_env
from tests.llm.wire_servers import WireServer

IN_FLIGHT = 300
POOL_MOST = 15  # DATABASE_POOL_SIZE (15) and DATABASE_MAX_OVERFLOW (0): one process
REPLY = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


@pytest.fixture
def model() -> Iterator[WireServer]:
    server = WireServer("openai").start()
    server.behaviour.text = REPLY
    yield server
    server.stop()


@pytest.fixture
def app(redis_app):
    return redis_app


def _env(migrated: str, redis_url: str, model: WireServer) -> dict[str, str]:
    return shipped_env(
        migrated,
        REDIS_URL=redis_url,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=model.base_url,
        LLM_TIMEOUT_SECONDS="300",
        # hundreds arrive at once: on a loaded machine some wait their turn for a connection
        DATABASE_POOL_TIMEOUT_SECONDS="240",
    )


def _sessions(database_url: str) -> dict[str, int]:
    """chatdock's sessions on its database by state (this probe's own left out); the
    change feed's LISTEN connection (app.change_feed) counted apart, as ``feed``."""
    rows = on_own_connection(
        database_url,
        "SELECT CASE WHEN application_name = :feed THEN 'feed' "
        "ELSE coalesce(state, '?') END, count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "GROUP BY 1",
        {"feed": APPLICATION_NAME},
    )
    return {state: int(count) for state, count in rows}


async def _chat_all(port: int, path: str, body: dict, count: int) -> list[tuple[int, str]]:
    limits_ = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits_, timeout=240) as client:

        async def one() -> tuple[int, str]:
            if not body.get("stream"):
                answer = await client.post(f"http://127.0.0.1:{port}{path}", json=body)
                return answer.status_code, answer.text
            async with client.stream("POST", f"http://127.0.0.1:{port}{path}", json=body) as r:
                return r.status_code, (await r.aread()).decode()

        return await asyncio.gather(*(one() for _ in range(count)))


@pytest.mark.postgresql_only  # pg_stat_activity is what it reads
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_one_process_holds_hundreds_of_chats_without_holding_transactions(
    app, migrated, redis_url, model, account, make_client, streamed
):
    client = make_client(account, "busy", provider="openai")
    model.behaviour.gather = IN_FLIGHT
    model.behaviour.gather_timeout = 240
    seen: list[dict[str, int]] = []
    model.on_gathered = lambda: seen.append(_sessions(migrated))
    body = {"messages": [{"role": "user", "content": "hello"}], "stream": streamed}
    path = f"/api/v0/llm-clients/{client.id}/{client.name}/"
    db.session.close()  # this test's own connection goes back: only chatdock's count
    db.engine.dispose()
    with gunicorn(_env(migrated, redis_url, model), workers=1) as port:
        answers = asyncio.run(_chat_all(port, path, body, IN_FLIGHT))
    assert model.peak == IN_FLIGHT, f"only {model.peak} chats were in flight at once"
    assert [status for status, _ in answers] == [200] * IN_FLIGHT
    for _, payload in answers:
        if streamed:
            done = payload.split("event: done\ndata: ", 1)[1].split("\n", 1)[0]
            assert json.loads(done)["reply"] == REPLY
        else:
            assert json.loads(payload)["reply"] == REPLY
    # While every model call was pending, chatdock held no transaction open, and no
    # more connections than one pool, besides the worker's change feed.
    assert len(seen) == 1
    in_pool = {state: n for state, n in seen[0].items() if state != "feed"}
    assert in_pool.get("idle in transaction", 0) == 0, seen[0]
    assert sum(in_pool.values()) <= POOL_MOST, seen[0]
    assert seen[0].get("feed") == 1, seen[0]
    stored = db.session.scalar(
        select(func.count()).select_from(ChatMessage).where(ChatMessage.role == "assistant")
    )
    assert stored == IN_FLIGHT


def _cut_after_first_delta(port: int, path: str, body: dict) -> str:
    """POST ``body`` as a raw HTTP/1.1 client, read until the first text arrived, then
    close the socket mid-stream (a visitor closing the tab); returns what was read."""
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        received = b""
        while b'"delta": "' not in received and b'"content": "one' not in received:
            chunk = sock.recv(4096)
            assert chunk, f"the stream ended before any text: {received!r}"
            received += chunk
    return received.decode()


def _wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        db.session.rollback()
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.mark.parametrize(
    "endpoint", ["native", "openai"], ids=["native endpoint", "openai endpoint"]
)
def test_a_stream_cut_by_its_caller_is_stored_and_charged_once(
    app, migrated, redis_url, model, account, make_client, endpoint
):
    client = make_client(account, "cut", provider="openai")
    limit_settings.set_budget(account, 1_000_000, by=None)
    model.behaviour.delta_interval = 0.3
    model.behaviour.usage_in_stream = False
    base = f"/api/v0/llm-clients/{client.id}/{client.name}/"
    path = base if endpoint == "native" else base + "v1/chat/completions"
    body = {"messages": [{"role": "user", "content": "count to fourteen"}], "stream": True}
    with gunicorn(_env(migrated, redis_url, model)) as port:
        _cut_after_first_delta(port, path, body)
        reply = _wait_for(
            lambda: db.session.scalars(
                select(ChatMessage.content).where(ChatMessage.role == "assistant")
            ).all()
        )
        _wait_for(lambda: model.hangups == 1)  # chatdock closed the upstream request
        time.sleep(1)  # nothing more is written later
        db.session.rollback()
    # The partial answer is the transcript, once.
    assert len(reply) == 1 and reply[0] and REPLY.startswith(reply[0]) and reply[0] != REPLY
    rows = db.session.execute(
        select(
            func.sum(UsageDaily.requests),
            func.sum(UsageDaily.prompt_tokens),
            func.sum(UsageDaily.completion_tokens),
        )
    ).one()
    requests, prompt, completion = (int(value) for value in rows)
    assert requests == 1 and prompt > 0 and completion > 0
    # The budget is charged what the usage says, and nothing stays reserved.
    redis = Redis.from_url(redis_url)
    assert int(redis.get(limits.budget_key(account.id))) == prompt + completion
    assert int(redis.get(limits.held_key(account.id)) or 0) == 0
