"""The tool loop through the real SDK adapters: mock OpenAI and Anthropic servers that
call tools, plain and streamed, over several rounds and past the round limit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ToolCallRecord, UsageDaily
from tests.llm.wire_servers import WireServer
from tests.tools.conftest import make_customer

FLAVORS = ["openai", "anthropic"]


@pytest.fixture(params=FLAVORS)
def server(request) -> Iterator[WireServer]:
    wire = WireServer(request.param).start()
    yield wire
    wire.stop()


def provider_settings(server: WireServer) -> dict[str, str]:
    prefix = server.flavor.upper()
    return {f"{prefix}_API_KEY": "sk-test", f"{prefix}_BASE_URL": server.base_url}


@pytest.fixture
def app(tools_app, server):
    with tools_app(**provider_settings(server)) as application:
        yield application


@pytest.fixture
def shop(app, make_client, server):
    customer = make_customer("Shop", make_client, app.test_client(), provider=server.flavor)
    customer.attach(functions=["calculator", "date_calculator"])
    return customer


def results_sent(server: WireServer, index: int) -> list[tuple[str, str]]:
    """(call id, content) of the tool results in the server's request ``index``."""
    body = server.requests[index].body
    if server.flavor == "openai":
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    return [
        (block["tool_use_id"], block["content"])
        for m in body["messages"]
        if m["role"] == "user" and isinstance(m["content"], list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]


def offered(server: WireServer, index: int) -> list[str]:
    tools = server.requests[index].body["tools"]
    return sorted(t["function"]["name"] if "function" in t else t["name"] for t in tools)


def reply_of(response, stream: bool) -> tuple[str, dict, list[str]]:
    if not stream:
        return response.json["reply"], response.json["usage"], []
    body = response.get_data(as_text=True)
    done = json.loads(body.split("event: done\ndata: ")[1].split("\n")[0])
    tools = [
        json.loads(part.split("\n")[0])["name"] for part in body.split("event: tool\ndata: ")[1:]
    ]
    return done["reply"], done["usage"], tools


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_two_rounds_of_calls_then_an_answer(shop, server, stream):
    server.behaviour.tool_script = [
        [
            ("calculator", {"expression": "2+2"}),
            (
                "date_calculator",
                {"operation": "difference", "date": "2026-01-01", "other": "2026-03-01"},
            ),
        ],
        [("calculator", {"expression": "3*"})],
    ]
    response = shop.chat("what is 2+2?", stream=stream)
    assert response.status_code == 200
    reply, usage, tool_events = reply_of(response, stream)
    assert reply == "Hello there, friend."
    assert len(server.requests) == 3
    assert offered(server, 0) == ["calculator", "date_calculator"]
    assert results_sent(server, 1) == [
        ("call_0_0", '{"expression": "2+2", "result": 4}'),
        ("call_0_1", '{"date": "2026-01-01", "other": "2026-03-01", "days": 59}'),
    ]
    second = results_sent(server, 2)[2]
    assert second[0] == "call_1_0" and second[1].startswith("error: not an arithmetic expression")
    # Every round is charged: three model calls of 11 + 5 tokens.
    assert usage["prompt_tokens"] == 33 and usage["completion_tokens"] == 15
    stored = db.session.execute(
        select(func.sum(UsageDaily.prompt_tokens), func.sum(UsageDaily.completion_tokens))
    ).one()
    assert tuple(stored) == (33, 15)
    records = db.session.execute(
        select(ToolCallRecord.round, ToolCallRecord.name, ToolCallRecord.outcome).order_by(
            ToolCallRecord.id
        )
    ).all()
    assert [tuple(r) for r in records] == [
        (1, "calculator", "ok"),
        (1, "date_calculator", "ok"),
        (2, "calculator", "error"),
    ]
    if stream:
        assert tool_events == ["calculator", "date_calculator", "calculator"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_model_that_never_stops_calling_is_cut_at_the_round_limit(
    tools_app, server, make_client, stream
):
    with tools_app(**provider_settings(server), TOOLS_MAX_ROUNDS=3) as app:
        shop = make_customer("Loop", make_client, app.test_client(), provider=server.flavor)
        shop.attach(functions=["calculator"])
        server.behaviour.tool_script = [[("calculator", {"expression": "1+1"})]]
        server.behaviour.tool_repeat = True
        response = shop.chat("loop forever", stream=stream)
        assert response.status_code == 200
        reply, usage, _ = reply_of(response, stream)
        assert reply == "[stopped: the model was still calling tools after 3 rounds]"
        assert len(server.requests) == 3  # never a fourth model call
        assert usage["total_tokens"] == 3 * 16
        assert db.session.scalar(select(func.count()).select_from(ToolCallRecord)) == 2


def test_openai_compatible_endpoint_runs_the_loop(shop, server):
    from tests.conftest import host_of

    server.behaviour.tool_script = [[("calculator", {"expression": "6*7"})]]
    response = shop.http.post(
        "/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "6*7?"}]},
        headers={"Host": host_of(shop.client)},
    )
    assert response.status_code == 200, response.json
    assert response.json["choices"][0]["message"]["content"] == "Hello there, friend."
    assert results_sent(server, 1) == [("call_0_0", '{"expression": "6*7", "result": 42}')]


@pytest.mark.parametrize("server", ["openai"], indirect=True)
def test_every_round_is_settled_against_the_budget(tools_app, server, make_client, redis_url):
    from redis import Redis

    from app.services import limits

    with tools_app(**provider_settings(server), REDIS_URL=redis_url) as app:
        redis = Redis.from_url(redis_url)
        redis.flushall()
        shop = make_customer("Budget", make_client, app.test_client(), provider="openai")
        shop.account.monthly_token_budget = 100_000
        db.session.commit()
        shop.attach(functions=["calculator"])
        server.behaviour.tool_script = [[("calculator", {"expression": "1"})]] * 2
        assert shop.chat("count twice").status_code == 200
        account_id = shop.account.id
        assert int(redis.get(limits.budget_key(account_id))) == 3 * 16  # three rounds
        assert int(redis.get(limits.held_key(account_id)) or 0) == 0  # nothing left reserved
