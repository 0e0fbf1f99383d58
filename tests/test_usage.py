"""Usage aggregates: maintained as turns are stored, equal to the stored turns after a
concurrent load, reported by ``flask usage``."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChatMessage, ChatSession, LlmClient
from app.services import api_keys, usage
from tests.live import serve

BODY = {"messages": [{"role": "user", "content": "how many tokens is this?"}]}


def _chat_path(client: LlmClient) -> str:
    return f"/api/v0/llm-clients/{client.id}/{client.name}/"


def _stored_totals() -> dict[str, tuple[int, int, int]]:
    """Per client, from the stored turns: (answers, prompt tokens, completion tokens)."""
    rows = db.session.execute(
        select(
            LlmClient.name,
            func.count(ChatMessage.id),
            func.sum(ChatMessage.prompt_tokens),
            func.sum(ChatMessage.completion_tokens),
        )
        .join(ChatSession, ChatSession.client_id == LlmClient.id)
        .join(ChatMessage, ChatMessage.session_id == ChatSession.id)
        .where(ChatMessage.role == "assistant")
        .group_by(LlmClient.name)
    ).all()
    return {name: (int(n), int(p), int(c)) for name, n, p, c in rows}


def test_aggregates_equal_the_stored_turns_after_a_concurrent_load(app, account, make_client):
    clients = [make_client(account, name) for name in ("alpha", "beta")]
    clients.append(make_client(account, "gamma", require_api_key=True))
    key = api_keys.create_api_key(account, [], None, "load").plaintext
    paths = [_chat_path(c) for c in clients]
    with serve(app) as port:

        def one(index: int) -> int:
            headers = {"x-api-key": key} if index % 3 == 2 else {}
            body = {"messages": [{"role": "user", "content": "x" * (index % 7 + 1)}]}
            response = httpx.post(
                f"http://127.0.0.1:{port}{paths[index % 3]}", json=body, headers=headers
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(one, range(90)))
    assert statuses == [200] * 90
    db.session.expire_all()
    stored = _stored_totals()
    by_client = {row.group: row for row in usage.report(account_id=account.id, by="client")}
    assert set(by_client) == {"alpha", "beta", "gamma"}
    for name, (answers, prompt, completion) in stored.items():
        row = by_client[name]
        assert (row.requests, row.prompt_tokens, row.completion_tokens) == (
            answers,
            prompt,
            completion,
        )
        assert row.errors == 0
    assert sum(row.requests for row in by_client.values()) == 90
    assert sum(p + c for _, p, c in stored.values()) > 0
    by_key = {row.group: row.requests for row in usage.report(account_id=account.id, by="key")}
    assert by_key.pop("(no key)") == 60
    assert list(by_key.values()) == [30]
    assert usage.tokens_this_month(account.id) == sum(p + c for _, p, c in stored.values())


def test_flask_usage_prints_and_exports_the_aggregates(app, http, account, make_client):
    client = make_client(account, "alpha")
    for _ in range(3):
        assert http.post(_chat_path(client), json=BODY).status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["usage", "--account", account.account_number, "--by", "client", "--csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    stored = _stored_totals()["alpha"]
    assert rows == [
        rows[0] | {"client": "alpha", "requests": "3", "errors": "0"},
    ]
    assert int(rows[0]["total_tokens"]) == stored[1] + stored[2]
    result = runner.invoke(args=["usage", "--account", account.account_number, "--by", "model"])
    assert result.exit_code == 0 and "requests=3" in result.output
    assert "this month:" in result.output


def test_flask_usage_refuses_bad_options(app, account):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["usage", "--client", "alpha"])
    assert result.exit_code == 2 and "--client needs --account" in result.output
    result = runner.invoke(args=["usage", "--since", "yesterday"])
    assert result.exit_code == 2 and "expected YYYY-MM-DD" in result.output
    result = runner.invoke(args=["usage", "--account", "0000-0000-0000"])
    assert result.exit_code == 1 and "no account" in result.output
