"""The tool loop offline: the echo provider calls tools ("/tool NAME {json}"), chatdock
runs them and stores each call with the turn; every kind of bad call is a result for
the model, never a 5xx."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models import ChatMessage, ToolCallRecord


def calls() -> list[tuple[str, str, str]]:
    rows = db.session.execute(
        select(ToolCallRecord.name, ToolCallRecord.outcome, ChatMessage.role)
        .join(ChatMessage, ChatMessage.id == ToolCallRecord.message_id)
        .order_by(ToolCallRecord.id)
    ).all()
    return [tuple(r) for r in rows]


def test_builtin_calculator_runs_and_is_stored(customer):
    customer.attach(functions=["calculator"])
    response = customer.chat('/tool calculator {"expression": "(2+3)*4 - 2**3"}')
    assert response.status_code == 200, response.json
    assert (
        response.json["reply"]
        == 'echo: calculator -> {"expression": "(2+3)*4 - 2**3", "result": 12}'
    )
    assert calls() == [("calculator", "ok", "assistant")]


def test_calculator_refuses_code(customer):
    customer.attach(functions=["calculator"])
    expression = "__import__('os').system('id')"
    response = customer.chat("/tool calculator " + json.dumps({"expression": expression}))
    assert response.status_code == 200
    assert "error: only numbers, parentheses" in response.json["reply"]
    assert calls() == [("calculator", "error", "assistant")]


def test_static_plugin_and_parallel_calls(customer):
    customer.plugin(
        "opening-hours",
        {
            "type": "static",
            "description": "When the shop is open",
            "selector": {"searchTerms": ["open", "hours"]},
            "static": {"data": {"weekdays": "9-18", "sunday": "closed"}},
        },
    )
    customer.attach(plugins=["opening-hours"], functions=["date_calculator"])
    text = (
        "when are you open?\n/tool opening-hours {}\n"
        '/tool date_calculator {"operation": "add", "date": "2026-12-07", "days": 30}'
    )
    reply = customer.chat(text).json["reply"]
    assert reply == (
        'echo: opening-hours -> {"weekdays": "9-18", "sunday": "closed"}\n'
        'date_calculator -> {"date": "2027-01-06", "weekday": "Wednesday"}'
    )
    assert [c[:2] for c in calls()] == [("opening-hours", "ok"), ("date_calculator", "ok")]


def test_unselected_plugin_is_not_offered(customer):
    customer.plugin(
        "opening-hours",
        {
            "type": "static",
            "selector": {"searchTerms": ["opening hours"]},
            "static": {"data": "9-18"},
        },
    )
    customer.attach(plugins=["opening-hours"], functions=["current_time"])
    # "hours" alone is not the phrase: the plugin is not offered, its call is unknown.
    reply = customer.chat("/tool opening-hours {}\nhow many hours?").json["reply"]
    assert reply == "echo: opening-hours -> error: there is no tool named 'opening-hours'"
    assert calls() == [("opening-hours", "unknown", "assistant")]
    reply = customer.chat("/tool opening-hours {}\nyour Opening  Hours?").json["reply"]
    assert reply == "echo: opening-hours -> 9-18"


def test_invalid_arguments_go_back_to_the_model(customer):
    customer.attach(functions=["date_calculator", "current_time"])
    reply = customer.chat(
        '/tool date_calculator {"operation": "explode", "date": "2026-01-01"}\n'
        "/tool current_time {not json}\n"
        '/tool current_time {"timezone": "../../etc/passwd"}'
    ).json["reply"]
    lines = reply.removeprefix("echo: ").split("\n")
    assert lines[0].startswith("date_calculator -> error: invalid arguments: operation: 'explode'")
    assert lines[1] == "current_time -> error: the arguments are not valid JSON"
    assert lines[2].startswith("current_time -> error: unknown time zone")
    assert [c[1] for c in calls()] == ["invalid", "invalid", "error"]


def test_tool_loop_round_limit(customer):
    customer.attach(functions=["calculator"])
    response = customer.chat('/tool-loop calculator {"expression": "1+1"}')
    assert response.status_code == 200
    assert response.json["reply"] == "[stopped: the model was still calling tools after 5 rounds]"
    assert len(calls()) == 4  # the fifth round's call is not run


def test_streamed_tool_events(customer):
    customer.attach(functions=["calculator"])
    response = customer.chat('/tool calculator {"expression": "6*7"}', stream=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'event: tool\ndata: {"name": "calculator", "ok": true}' in body
    done = json.loads(body.split("event: done\ndata: ")[1].split("\n")[0])
    assert done["reply"] == 'echo: calculator -> {"expression": "6*7", "result": 42}'
    assert calls() == [("calculator", "ok", "assistant")]


def test_openai_endpoint_runs_tools(customer):
    from tests.conftest import host_of

    customer.attach(functions=["calculator"])
    response = customer.http.post(
        "/v1/chat/completions",
        json={
            "model": "echo-1",
            "messages": [{"role": "user", "content": '/tool calculator {"expression": "2*21"}'}],
        },
        headers={"Host": host_of(customer.client)},
    )
    assert response.status_code == 200, response.json
    assert response.json["choices"][0]["message"]["content"].endswith('"result": 42}')


def test_metrics_count_tool_calls_by_outcome_and_latency(customer):
    from tests.test_operations import metric

    customer.attach(functions=["calculator"])
    before = customer.http.get("/metrics").get_data(as_text=True)
    customer.chat('/tool calculator {"expression": "1+1"}\n/tool calculator {"expression": "1/0"}')
    after = customer.http.get("/metrics").get_data(as_text=True)
    calls = "chatdock_tool_calls_total"
    for outcome in ("ok", "error"):
        labels = {"kind": "builtin", "outcome": outcome}
        assert metric(after, calls, **labels) == metric(before, calls, **labels) + 1
    latency = "chatdock_tool_call_duration_seconds_count"
    assert metric(after, latency, kind="builtin") == metric(before, latency, kind="builtin") + 2


def test_openai_endpoint_streams_the_loops_answer(customer):
    from tests.conftest import host_of

    customer.attach(functions=["calculator"])
    response = customer.http.post(
        "/v1/chat/completions",
        json={
            "model": "echo-1",
            "stream": True,
            "messages": [{"role": "user", "content": '/tool calculator {"expression": "2*21"}'}],
        },
        headers={"Host": host_of(customer.client)},
    )
    assert response.status_code == 200
    chunks = [
        json.loads(line.removeprefix("data: "))
        for line in response.get_data(as_text=True).split("\n")
        if line.startswith("data: {")
    ]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == 'echo: calculator -> {"expression": "2*21", "result": 42}'
    assert calls() == [("calculator", "ok", "assistant")]


def test_a_round_runs_at_most_sixteen_calls(customer):
    customer.attach(functions=["calculator"])
    lines = [f'/tool calculator {{"expression": "{i}+0"}}' for i in range(17)]
    reply = customer.chat("\n".join(lines)).json["reply"].removeprefix("echo: ").split("\n")
    assert reply[15] == 'calculator -> {"expression": "15+0", "result": 15}'
    assert reply[16] == "calculator -> error: not run: at most 16 calls in one round"
    assert [c[1] for c in calls()] == ["ok"] * 16 + ["error"]


def test_at_most_tools_max_per_request_are_offered(tools_app, make_client):
    from tests.tools.conftest import make_customer

    with tools_app(TOOLS_MAX_PER_REQUEST=1) as app:
        shop = make_customer("Few", make_client, app.test_client())
        shop.attach(functions=["calculator", "current_time"])
        reply = shop.chat('/tool calculator {"expression": "1"}\n/tool current_time {}').json
        assert reply["reply"] == (
            'echo: calculator -> {"expression": "1", "result": 1}\n'
            "current_time -> error: there is no tool named 'current_time'"
        )
