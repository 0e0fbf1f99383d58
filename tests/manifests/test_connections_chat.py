"""Provider connections and fallbacks on the chat path, against mock providers on
127.0.0.1 (let in by TOOLS_ALLOWED_NETWORKS): an account's key goes to its own server
only, a failing model passes on to the next, and the answer names the model that
answered."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import UsageDaily
from app.services import accounts, clients
from tests.conftest import _empty_tables, host_of
from tests.llm.wire_servers import WireServer
from tests.test_operations import metric


@pytest.fixture
def platform_server() -> Iterator[WireServer]:
    server = WireServer("openai").start()
    yield server
    server.stop()


@pytest.fixture
def own_server() -> Iterator[WireServer]:
    server = WireServer("openai").start()
    server.behaviour.text = "From your own server."
    yield server
    server.stop()


def _app(make_app, platform_server: WireServer, **overrides) -> Iterator[Flask]:
    application = make_app(
        OPENAI_BASE_URL=platform_server.base_url, OPENAI_API_KEY="sk-platform", **overrides
    )
    with application.app_context():
        _empty_tables()
        yield application
        db.session.remove()


@pytest.fixture
def app(make_app, platform_server):
    yield from _app(
        make_app, platform_server, TOOLS_ALLOWED_NETWORKS="127.0.0.0/8", LLM_TIMEOUT_SECONDS=4
    )


def manifest(account, kind, name, **spec) -> dict:
    return {
        "apiVersion": "chatdock/v1",
        "kind": kind,
        "metadata": {"name": name, "account": account.account_number},
        "spec": spec,
    }


def apply(cli, *documents) -> str:
    result = cli("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    assert result.exit_code == 0, result.output
    return result.output


def own_connection(account, server: WireServer, key: str = "sk-account-a") -> dict:
    return manifest(
        account,
        "ProviderConnection",
        "own",
        type="openai",
        baseUrl=server.base_url,
        apiKey=key,
        models=["my-llama"],
    )


def chat(http, account, name="shop", **body):
    client = clients.get_client(account, name)
    payload = {"messages": [{"role": "user", "content": "hello"}], **body}
    return http.post("/llm-client/", json=payload, headers={"Host": host_of(client)})


def deployed(cli, account, name="shop", **spec):
    apply(cli, manifest(account, "Client", name, **spec))
    clients.mark_deployed_without_infrastructure(clients.get_client(account, name))
    db.session.commit()


def falling_back(cli, own_server):
    """An account whose client "shop" is on the platform's gpt-4.1, falling back to the
    account's own server."""
    alpha = accounts.create_account("Alpha")
    apply(cli, own_connection(alpha, own_server))
    deployed(
        cli, alpha, model="gpt-4.1", fallbacks=[{"model": "my-llama", "providerConnection": "own"}]
    )
    return alpha


def test_a_client_on_its_accounts_connection_sends_that_accounts_key(
    cli, http, own_server, platform_server
):
    alpha, bravo = accounts.create_account("Alpha"), accounts.create_account("Bravo")
    apply(cli, own_connection(alpha, own_server))
    deployed(cli, alpha, model="my-llama", providerConnection="own")
    deployed(cli, bravo, model="gpt-4.1")

    answer = chat(http, alpha)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["reply"] == "From your own server."
    assert own_server.last.headers["authorization"] == "Bearer sk-account-a"
    assert own_server.last.body["model"] == "my-llama"
    assert answer.headers["X-Chatdock-Model"] == "my-llama"

    seen = len(own_server.requests)
    assert chat(http, bravo).status_code == 200
    assert len(own_server.requests) == seen  # another account's client never reaches it
    assert platform_server.last.headers["authorization"] == "Bearer sk-platform"
    refused = cli(
        "apply",
        "-f",
        "-",
        input=yaml.safe_dump(manifest(bravo, "Client", "shop", model="my-llama")),
    )
    assert refused.exit_code == 2
    assert "spec.model: unknown model 'my-llama'" in refused.output  # alpha's model only


def test_a_new_key_reaches_the_server_at_the_next_request(cli, http, own_server):
    alpha = accounts.create_account("Alpha")
    apply(cli, own_connection(alpha, own_server))
    deployed(cli, alpha, model="my-llama", providerConnection="own")
    chat(http, alpha)
    assert apply(cli, own_connection(alpha, own_server, key="sk-rotated")) == (
        "ProviderConnection/own: changed (apiKey)\n"
    )
    chat(http, alpha)
    assert own_server.last.headers["authorization"] == "Bearer sk-rotated"


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "server_error"), (429, "rate_limited"), (503, "server_error")]
)
def test_a_failing_model_falls_back_and_the_answer_names_who_answered(
    cli, http, own_server, platform_server, status, reason
):
    alpha = falling_back(cli, own_server)
    platform_server.behaviour.status = status
    before = http.get("/metrics").get_data(as_text=True)
    answer = chat(http, alpha)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["model"] == "my-llama"
    assert answer.headers["X-Chatdock-Model"] == "my-llama"
    assert len(platform_server.requests) == 1  # tried first
    assert own_server.last.headers["authorization"] == "Bearer sk-account-a"
    after = http.get("/metrics").get_data(as_text=True)
    name = "chatdock_llm_fallbacks_total"
    assert metric(after, name, reason=reason) == metric(before, name, reason=reason) + 1
    errors = "chatdock_provider_errors_total"
    code = "provider_rate_limited" if status == 429 else "provider_error"
    assert metric(after, errors, provider="openai", code=code) == (
        metric(before, errors, provider="openai", code=code) + 1
    )
    rows = db.session.execute(select(UsageDaily.model, UsageDaily.requests)).all()
    assert rows == [("my-llama", 1)]  # counted for the model that answered


def test_a_model_that_hangs_leaves_the_fallback_its_share_of_the_deadline(
    cli, http, own_server, platform_server
):
    alpha = falling_back(cli, own_server)
    platform_server.behaviour.delay = 3.0  # past its share (2 s of the 4 s deadline)
    before = http.get("/metrics").get_data(as_text=True)
    answer = chat(http, alpha)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["reply"] == "From your own server."
    after = http.get("/metrics").get_data(as_text=True)
    name = "chatdock_llm_fallbacks_total"
    assert metric(after, name, reason="timeout") == metric(before, name, reason="timeout") + 1


def test_an_unreachable_connection_falls_back_to_the_platform(cli, http, platform_server):
    alpha = accounts.create_account("Alpha")
    closed = manifest(
        alpha,
        "ProviderConnection",
        "down",
        type="openai",
        baseUrl="http://127.0.0.1:9/v1",
        apiKey="sk-a",
        models=["my-llama"],
    )
    apply(cli, closed)
    deployed(
        cli, alpha, model="my-llama", providerConnection="down", fallbacks=[{"model": "gpt-4.1"}]
    )
    answer = chat(http, alpha)
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["X-Chatdock-Model"] == "gpt-4.1"
    assert platform_server.last.headers["authorization"] == "Bearer sk-platform"


def test_an_anthropic_connection_sends_its_key(cli, http):
    server = WireServer("anthropic").start()
    try:
        alpha = accounts.create_account("Alpha")
        apply(
            cli,
            manifest(
                alpha,
                "ProviderConnection",
                "claude",
                type="anthropic",
                baseUrl=server.base_url,
                apiKey="sk-ant-alpha",
            ),
        )
        deployed(cli, alpha, model="claude-haiku-4-5-20251001", providerConnection="claude")
        answer = chat(http, alpha)
        assert answer.status_code == 200, answer.get_json()
        assert server.last.headers["x-api-key"] == "sk-ant-alpha"
        assert server.last.body["model"] == "claude-haiku-4-5-20251001"
    finally:
        server.stop()


def test_a_bad_request_does_not_fall_back(cli, http, own_server, platform_server):
    alpha = falling_back(cli, own_server)
    platform_server.behaviour.status = 400
    answer = chat(http, alpha)
    assert answer.status_code == 502
    assert own_server.requests == []


def test_a_stream_that_fails_before_its_first_chunk_falls_back(
    cli, http, own_server, platform_server
):
    alpha = falling_back(cli, own_server)
    platform_server.behaviour.status = 500
    answer = chat(http, alpha, stream=True)
    assert answer.status_code == 200
    assert answer.headers["X-Chatdock-Model"] == "my-llama"
    text = answer.get_data(as_text=True)
    session = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert session["model"] == "my-llama"
    done = json.loads(text.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["reply"] == "From your own server."
    assert len(platform_server.requests) == 1


def test_the_openai_endpoint_names_the_fallback(cli, http, own_server, platform_server):
    alpha = falling_back(cli, own_server)
    platform_server.behaviour.status = 502
    client = clients.get_client(alpha, "shop")
    answer = http.post(
        "/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Host": host_of(client)},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["model"] == "my-llama"


def test_the_network_guard_holds_at_save_and_at_call_time(
    app, cli, make_app, own_server, platform_server
):
    alpha = accounts.create_account("Alpha")
    apply(cli, own_connection(alpha, own_server))  # loopback allowed in this app
    deployed(cli, alpha, model="my-llama", providerConnection="own")
    number = alpha.account_number
    guarded = make_app(OPENAI_BASE_URL=platform_server.base_url, OPENAI_API_KEY="sk-platform")
    with guarded.app_context():  # the same database, loopback no longer allowed
        runner = guarded.test_cli_runner()
        doc = own_connection(accounts.get_account(number), own_server, key="sk-other")
        refused = runner.invoke(args=["apply", "-f", "-"], input=yaml.safe_dump(doc))
        assert refused.exit_code == 2
        assert "doc 1 (ProviderConnection/own): spec.baseUrl: refused:" in refused.output
        assert "127.0.0.1" in refused.output and "sk-other" not in refused.output
        client = clients.get_client(accounts.get_account(number), "shop")
        answer = guarded.test_client().post(
            "/llm-client/",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"Host": host_of(client)},
        )
        assert answer.status_code == 502
        assert "sk-account-a" not in answer.get_data(as_text=True)
        db.session.remove()
    assert own_server.requests == []  # never reached
