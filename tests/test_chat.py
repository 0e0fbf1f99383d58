"""The chat contract: answers, sessions, merge rule, streaming, and every bad input."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChatMessage, ChatSession
from tests.conftest import host_of


def post(http, client, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return http.post(
        "/llm-client/",
        data=data,
        content_type="application/json",
        headers={"Host": host_of(client), **headers},
    )


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(ChatSession)),
        db.session.scalar(select(func.count()).select_from(ChatMessage)),
    )


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_reply_shape_and_persistence(http, demo):
    response = post(http, demo, {"messages": [user("hello world")]})
    assert response.status_code == 200
    body = response.json
    assert body["reply"] == body["message"]["content"] == "echo: hello world"
    assert body["message"]["role"] == "assistant"
    assert body["model"] == "echo-1" and body["client"] == "demo"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 3
    assert response.headers["X-Request-ID"]
    session = db.session.execute(select(ChatSession)).scalar_one()
    assert session.session_key == body["session_key"]
    stored = [(m.role, m.content) for m in session.messages]
    assert stored == [("user", "hello world"), ("assistant", "echo: hello world")]
    assert session.messages[-1].completion_tokens == 3
    assert session.messages[-1].latency_ms is not None


def test_session_key_continues_the_conversation(http, demo):
    first = post(http, demo, {"messages": [user("one")]}).json
    second = post(
        http,
        demo,
        {"messages": [user("two")], "session_key": first["session_key"]},
    ).json
    assert second["session_key"] == first["session_key"]
    # The provider saw the stored history: 'one', its reply and 'two' (+ system prompt).
    words = len(["You", "are", "helpful."]) + 1 + 2 + 1
    assert second["usage"]["prompt_tokens"] == words
    assert counts() == (1, 4)


def test_prompt_history_is_merged_with_overlap_taken_once(http, demo):
    body = {
        "prompt_history": [
            {"message": "hi", "direction": "outgoing", "sentTime": "t1", "sender": "me"},
            {"message": "echo: hi", "direction": "incoming", "sender": "bot"},
            {"message": "again", "direction": "outgoing"},
        ],
        "messages": [user("again")],
    }
    response = post(http, demo, body)
    assert response.status_code == 200
    session = db.session.execute(select(ChatSession)).scalar_one()
    assert [(m.role, m.content) for m in session.messages] == [
        ("user", "hi"),
        ("assistant", "echo: hi"),
        ("user", "again"),
        ("assistant", "echo: again"),
    ]


def test_stored_history_wins_over_prompt_history(http, demo):
    key = post(http, demo, {"messages": [user("stored")]}).json["session_key"]
    body = {
        "session_key": key,
        "prompt_history": [{"message": "ignored " * 50, "direction": "outgoing"}],
        "messages": [user("next")],
    }
    response = post(http, demo, body).json
    assert response["usage"]["prompt_tokens"] == len(["You", "are", "helpful."]) + 1 + 2 + 1


def test_session_key_of_another_client_is_useless(http, account, demo, make_client):
    other = make_client(account, "other")
    key = post(http, demo, {"messages": [user("secret")]}).json["session_key"]
    before = counts()
    response = post(http, other, {"messages": [user("x")], "session_key": key})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "session_not_found"
    assert counts() == before


def test_stream_as_server_sent_events(http, demo):
    response = post(http, demo, {"messages": [user("stream me please")], "stream": True})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = [block for block in response.get_data(as_text=True).split("\n\n") if block]
    assert events[0].startswith("event: session")
    head = json.loads(events[0].split("data: ", 1)[1])
    deltas = [json.loads(e.split("data: ", 1)[1])["delta"] for e in events[1:-1]]
    assert "".join(deltas) == "echo: stream me please"
    assert events[-1].startswith("event: done")
    done = json.loads(events[-1].split("data: ", 1)[1])
    assert done["reply"] == "echo: stream me please"
    session = db.session.execute(select(ChatSession)).scalar_one()
    assert session.session_key == head["session_key"]
    assert session.messages[-1].content == "echo: stream me please"


BAD_BODIES = {
    "invalid JSON": ("{not json", "invalid_json"),
    "empty body": ("", "invalid_json"),
    "not an object": ("[1, 2]", "invalid_request"),
    "messages missing": ({}, "invalid_request"),
    "messages empty": ({"messages": []}, "invalid_request"),
    "messages not a list": ({"messages": "hi"}, "invalid_request"),
    "content wrong type": ({"messages": [{"role": "user", "content": 5}]}, "invalid_request"),
    "content empty": ({"messages": [user("")]}, "invalid_request"),
    "unknown role": ({"messages": [{"role": "wizard", "content": "x"}]}, "invalid_request"),
    "last not user": (
        {"messages": [user("a"), {"role": "assistant", "content": "b"}]},
        "invalid_messages",
    ),
    "bad direction": (
        {"messages": [user("a")], "prompt_history": [{"message": "x", "direction": "up"}]},
        "invalid_request",
    ),
    "stream not bool": ({"messages": [user("a")], "stream": "yes"}, "invalid_request"),
    "malformed session key": ({"messages": [user("a")], "session_key": "x"}, "invalid_request"),
    "unknown session key": (
        {"messages": [user("a")], "session_key": "A" * 32},
        "session_not_found",
    ),
    "too many messages": ({"messages": [user("a")] * 101}, "too_many_messages"),
    "message too long": ({"messages": [user("a" * 32_001)]}, "message_too_long"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(http, demo, case):
    body, code = BAD_BODIES[case]
    response = post(http, demo, body)
    assert 400 <= response.status_code < 500
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert counts() == (0, 0)


def test_body_over_the_limit_is_413(make_app, app, make_client):
    small = make_app(MAX_CONTENT_LENGTH=2_000)
    with small.app_context():
        from app.services.accounts import create_account

        client = make_client(create_account("Small"), "demo")
        response = post(small.test_client(), client, {"messages": [user("x" * 5_000)]})
        assert response.status_code == 413
        assert response.json["error"]["code"] == "payload_too_large"
        assert counts() == (0, 0)


def test_a_chunked_body_over_the_limit_is_413_too(make_app, app, make_client):
    """Issue 17, Low: without Content-Length the body was cut at the limit and answered
    400 invalid_json. (Servers that de-chunk, like gunicorn, set wsgi.input_terminated.)"""
    small = make_app(MAX_CONTENT_LENGTH=2_000)
    with small.app_context():
        from app.services.accounts import create_account

        client = make_client(create_account("Small"), "demo")
        http = small.test_client()

        def chunked(body: dict):
            return http.post(
                "/llm-client/",
                input_stream=io.BytesIO(json.dumps(body).encode()),
                headers={
                    "Host": host_of(client),
                    "Content-Type": "application/json",
                    "Transfer-Encoding": "chunked",
                },
                environ_overrides={"wsgi.input_terminated": True},
            )

        response = chunked({"messages": [user("x" * 5_000)]})
        assert response.status_code == 413, response.json
        assert response.json["error"]["code"] == "payload_too_large"
        assert counts() == (0, 0)
        fits = {"messages": [user("x" * 100)]}
        padding = 2_000 - len(json.dumps(fits)) - len(', "stream": false')
        exact = {"messages": [user("x" * (100 + padding))], "stream": False}
        assert len(json.dumps(exact)) == 2_000
        assert chunked(exact).status_code == 200


def test_provider_failure_is_502_and_nothing_is_stored(http, demo):
    response = post(http, demo, {"messages": [user("__echo_error__")]})
    assert response.status_code == 502
    assert response.json["error"]["code"] == "provider_error"
    assert "Traceback" not in response.get_data(as_text=True)
    assert counts() == (0, 0)
    timeout = post(http, demo, {"messages": [user("__echo_timeout__")]})
    assert timeout.status_code == 504


def test_provider_failure_before_a_stream_is_a_real_status(http, demo):
    response = post(http, demo, {"messages": [user("__echo_error__")], "stream": True})
    assert response.status_code == 502
    assert response.json["error"]["code"] == "provider_error"


def test_unconfigured_provider_is_503(http, account, make_client):
    client = make_client(account, "gpt", provider="openai")
    response = post(http, client, {"messages": [user("hi")]})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "provider_not_configured"


def test_wrong_method_and_unknown_path_are_json(http, demo):
    response = http.get("/llm-client/", headers={"Host": host_of(demo)})
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    response = http.get("/nope", headers={"Host": host_of(demo)})
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_405_says_which_methods_are_allowed(http, demo):
    """Issue 17, Low: 405 answers carried no Allow header (RFC 9110, 15.5.6)."""
    for path in ("/llm-client/", "/v1/chat/completions", f"/api/v0/llm-clients/{demo.id}/demo/"):
        response = http.put(path, json={}, headers={"Host": host_of(demo)})
        assert response.status_code == 405, path
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
        assert response.json["error"]["code"] == "method_not_allowed"
    console = http.delete("/admin/login", headers={"Host": "localhost"})
    assert console.status_code == 405 and "POST" in console.headers["Allow"]


def test_rate_limit_is_429_json_per_client(app, make_app, make_client):
    from app.services.accounts import create_account

    limited = make_app(CHAT_RATE_LIMIT="2/minute")
    http = limited.test_client()
    with limited.app_context():
        account = create_account("Busy")
        first, second = make_client(account, "first"), make_client(account, "second")
        body = {"messages": [user("hi")]}
        assert post(http, first, body).status_code == 200
        assert post(http, first, body).status_code == 200
        refused = post(http, first, body)
        assert refused.status_code == 429
        assert refused.json["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0
        assert post(http, second, body).status_code == 200  # another client's own budget


def test_rate_limit_is_one_bucket_per_client_whatever_the_path(app, make_app, make_client):
    """Issue 17, Medium 8: the limit was counted once per endpoint."""
    from app.services.accounts import create_account

    limited = make_app(CHAT_RATE_LIMIT="4/minute")
    http = limited.test_client()
    with limited.app_context():
        account = create_account("Busy")
        bot, other = make_client(account, "bot"), make_client(account, "other")
        body = {"messages": [user("hi")]}
        by_path = f"/api/v0/llm-clients/{bot.id}/bot/"
        calls = [
            (host_of(bot), "/llm-client/"),
            (host_of(bot), "/v1/chat/completions"),
            ("localhost", by_path),
            ("localhost", by_path + "v1/chat/completions"),
        ]
        for host, path in calls:
            assert http.post(path, json=body, headers={"Host": host}).status_code == 200, path
        for host, path in [*calls, (host_of(bot), by_path)]:
            refused = http.post(path, json=body, headers={"Host": host})
            assert refused.status_code == 429, path
            assert refused.json["error"]["code"] == "rate_limited"
        assert post(http, other, body).status_code == 200  # another client's own budget


def test_nul_characters_are_refused_before_the_provider_is_called(http, demo):
    for body in (
        {"messages": [user("a\u0000b")]},
        {
            "messages": [user("a")],
            "prompt_history": [{"message": "\u0000", "direction": "outgoing"}],
        },
    ):
        response = post(http, demo, body)
        assert response.status_code == 400
        assert response.json["error"]["code"] == "invalid_request"
    assert counts() == (0, 0)


def test_rate_limit_is_shared_through_redis_and_fails_open_without_it(app, make_app, make_client):
    """Two processes (apps) count one bucket in Redis; with Redis gone the chat answers."""
    from app.services.accounts import create_account
    from devtools.services import redis_server_process

    with redis_server_process() as redis:
        first = make_app(CHAT_RATE_LIMIT="3/minute", REDIS_URL=redis.url, CHAT_LIMITS_ENABLED=False)
        second = make_app(
            CHAT_RATE_LIMIT="3/minute", REDIS_URL=redis.url, CHAT_LIMITS_ENABLED=False
        )
        body = {"messages": [user("hi")]}
        with first.app_context():
            host = host_of(make_client(create_account("Busy"), "bot"))

        def ask(app):
            return app.test_client().post("/llm-client/", json=body, headers={"Host": host})

        with first.app_context():
            assert ask(first).status_code == 200
            assert ask(first).status_code == 200
        with second.app_context():
            assert ask(second).status_code == 200
            refused = ask(second)
            assert refused.status_code == 429, "the other process's requests were not counted"
            assert "3 per 1 minute" in refused.json["error"]["message"]
            redis.stop()
            assert ask(second).status_code == 200  # fails open
