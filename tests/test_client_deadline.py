"""Each client has its own deadline for its model's answer (``timeout_seconds``; 0 keeps
the platform's LLM_TIMEOUT_SECONDS), set through the API, the CLI and the console, and
the chat answers 504 naming that deadline when the model takes longer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.cli import clients as clients_cli
from app.services import tokens
from app.services.users import create_admin
from tests.conftest import host_of
from tests.llm.wire_servers import WireServer


@pytest.fixture
def slow_model() -> Iterator[WireServer]:
    server = WireServer("openai").start()
    server.behaviour.delay = 3.0
    yield server
    server.stop()


@pytest.fixture
def chat_app(make_app, slow_model):
    app = make_app(
        OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=slow_model.base_url, LLM_TIMEOUT_SECONDS=30
    )
    with app.app_context():
        yield app


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_the_clients_deadline_cuts_a_slow_model(chat_app, account, make_client, stream):
    client = make_client(account, "quick", provider="openai", timeout_seconds=1)
    answer = chat_app.test_client().post(
        "/llm-client/",
        json={"messages": [{"role": "user", "content": "hi"}], "stream": stream},
        headers={"Host": host_of(client)},
    )
    assert answer.status_code == 504
    error = answer.get_json()["error"]
    assert error["code"] == "provider_timeout"
    assert "(1s)" in error["message"]


def test_without_its_own_deadline_a_client_has_the_platforms(chat_app, account, make_client):
    client = make_client(account, "patient", provider="openai")
    assert client.timeout_seconds == 0
    answer = chat_app.test_client().post(
        "/llm-client/",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers={"Host": host_of(client)},
    )
    assert answer.status_code == 200  # 3 s is within the platform's 30 s


def test_the_deadline_is_set_and_bounded_through_the_api_and_the_cli(app, account, demo):
    admin, _ = create_admin("root@chatdock.test", "correct horse battery staple")
    headers = {"Authorization": f"Bearer {tokens.create_token(admin).plaintext}"}
    http = app.test_client()
    answer = http.patch(f"/api/v1/clients/{demo.id}", json={"timeout_seconds": 20}, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["timeout_seconds"] == 20
    refused = http.patch(
        f"/api/v1/clients/{demo.id}", json={"timeout_seconds": 601}, headers=headers
    )
    assert refused.status_code == 400
    assert "timeout_seconds" in refused.get_json()["error"]["message"]

    runner = app.test_cli_runner()
    number = account.account_number
    result = runner.invoke(
        clients_cli.clients, ["update", "demo", "--account", number, "--timeout-seconds", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "timeout_seconds: 20 -> 0" in result.output
    bad = runner.invoke(
        clients_cli.clients, ["update", "demo", "--account", number, "--timeout-seconds", "-1"]
    )
    assert bad.exit_code == 2 and "timeout_seconds" in bad.output
    shown = runner.invoke(clients_cli.clients, ["show", "demo", "--account", number])
    assert re.search(r"deadline: +the platform's \(LLM_TIMEOUT_SECONDS\)", shown.output)
