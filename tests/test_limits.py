"""Limits: the monthly token budget (80% notice, 429 budget_exhausted mid-load), rate
limits per key and client with Retry-After (also across two gunicorn processes), and
failing open when Redis is down."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.llm.tokens import estimate_prompt_tokens
from app.models import Notification
from app.services import accounts, api_keys, limit_settings, usage
from app.services import clients as client_service
from devtools.services import free_port
from tests.conftest import _empty_tables
from tests.infra.conftest import run_burst_worker
from tests.live import gunicorn, serve, shipped_env

REPO = Path(__file__).resolve().parent.parent
BODY = {"messages": [{"role": "user", "content": "count my tokens please"}]}


@pytest.fixture
def fresh_minute():
    """Move the clock to the start of a minute (and let it tick from there), so a test's
    requests all fall into one rate-limit window however slowly the machine runs."""
    next_minute = (int(time.time() // 60) + 1) * 60
    with time_machine.travel(next_minute + 0.5, tick=True):
        yield


@pytest.fixture
def app(redis_app):
    return redis_app


def _path(client) -> str:
    return f"/api/v0/llm-clients/{client.id}/{client.name}/"


def test_a_budget_reached_mid_load_refuses_the_next_requests(app, account, make_client):
    client = make_client(account, "alpha")
    http = app.test_client()
    first = http.post(_path(client), json=BODY)
    per_request = first.get_json()["usage"]["total_tokens"]
    assert per_request > 0
    budget = per_request * 40
    limit_settings.set_budget(account, budget, by=None)
    in_flight = 32  # the probe's 32 concurrent requests went 49% over
    path = _path(client)
    with serve(app) as port:

        def one(_: int) -> httpx.Response:
            return httpx.post(f"http://127.0.0.1:{port}{path}", json=BODY)

        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            responses = list(pool.map(one, range(80)))
    served = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(served) + len(refused) == 80
    assert refused, "the budget never refused a request"
    error = refused[0].json()["error"]
    assert error["code"] == "budget_exhausted"
    assert "resets at" in error["message"]
    assert error["details"]["resets_at"] == usage.next_month_start().isoformat()
    assert int(refused[0].headers["Retry-After"]) > 0
    used = usage.tokens_this_month(account.id)
    # Each request reserved its prompt and answer before it ran: the budget is never
    # overshot, however many run at once.
    assert budget - 2 * in_flight * per_request <= used <= budget
    assert used == sum(r.json()["usage"]["total_tokens"] for r in served) + per_request
    # Requests refused while others held reservations may leave room: one at a time,
    # the budget fills up to the last request that fits, and no further.
    for _ in range(40):
        again = http.post(_path(client), json=BODY)
        if again.status_code != 200:
            break
    assert again.status_code == 429 and again.get_json()["error"]["code"] == "budget_exhausted"
    # Refused only when the room left is smaller than the prompt (as estimated) and one
    # answer token.
    needs = estimate_prompt_tokens(["", BODY["messages"][0]["content"]]) + 1
    assert budget - needs < usage.tokens_this_month(account.id) <= budget
    # The 80% notice is stored and delivered by a worker, never in a chat request.
    assert db.session.execute(select(Notification)).first() is None
    run_burst_worker(app)
    notices = db.session.execute(
        select(Notification).where(Notification.kind == "budget_warning")
    ).scalars()
    assert [n.data["budget"] for n in notices] == [budget]


def test_rate_limits_per_key_and_client_answer_429_with_retry_after(
    app, account, make_client, fresh_minute
):
    client = make_client(account, "alpha", require_api_key=True)
    issued = api_keys.create_api_key(account, [], None, "limited")
    other = api_keys.create_api_key(account, [], None, "other")
    limit_settings.set_rate_limits(issued.api_key, requests_per_minute=2, by=None)
    limit_settings.set_rate_limits(client, requests_per_minute=4, by=None)
    http = app.test_client()

    def post(key: str):
        return http.post(_path(client), json=BODY, headers={"x-api-key": key})

    statuses = [post(issued.plaintext).status_code for _ in range(3)]
    refused = post(issued.plaintext)
    more = [post(other.plaintext).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert "2 requests per minute" in refused.get_json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # the client's own limit (4) counts every key: 2 served above, 2 more, then refused
    assert more == [200, 200, 429]
    assert (
        "client alpha: 4 requests per minute"
        in post(other.plaintext).get_json()["error"]["message"]
    )


def test_tokens_per_minute_refuse_once_reached(app, account, make_client, fresh_minute):
    client = make_client(account, "alpha")
    limit_settings.set_rate_limits(client, tokens_per_minute=40, by=None)
    http = app.test_client()
    answers = [http.post(_path(client), json=BODY) for _ in range(6)]
    statuses = [a.status_code for a in answers]
    served = statuses.index(429)
    assert served >= 2 and set(statuses[served:]) == {429}
    assert "40 tokens per minute" in answers[served].get_json()["error"]["message"]
    assert sum(a.get_json()["usage"]["total_tokens"] for a in answers[:served]) <= 40


def test_a_prompt_larger_than_the_limit_is_refused_before_the_provider(
    app, account, make_client, fresh_minute
):
    client = make_client(account, "alpha")
    limit_settings.set_rate_limits(client, tokens_per_minute=1, by=None)
    answer = app.test_client().post(_path(client), json=BODY)
    assert answer.status_code == 429
    assert "this request needs" in answer.get_json()["error"]["message"]
    assert usage.tokens_this_month(account.id) == 0


def test_redis_down_the_chat_still_answers_and_metrics_count_it(make_app):
    down = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with down.app_context():
        _empty_tables()
        acct = accounts.create_account("Down Corp")
        client = client_service.create_client(
            acct, client_service.parse_spec(name="alpha"), deployed=True
        )
        limit_settings.set_budget(acct, 1, by=None)
        limit_settings.set_rate_limits(client, requests_per_minute=1, by=None)
        http = down.test_client()
        before = _metric(http.get("/metrics").text)
        for _ in range(3):
            response = http.post(_path(client), json=BODY)
            assert response.status_code == 200, response.get_json()
        assert _metric(http.get("/metrics").text) == before + 3
        assert usage.report(account_id=acct.id, by="client")[0].requests == 3
        db.session.remove()


def _metric(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("chatdock_limits_unavailable_total "):
            return float(line.split()[1])
    return 0.0


def test_rate_limits_hold_across_two_gunicorn_processes(
    app, migrated, redis_url, account, make_client
):
    env = shipped_env(migrated, REDIS_URL=redis_url, HOST_INDEX_CHECK_SECONDS="0")
    with gunicorn(env) as first, gunicorn(env) as second:
        for attempt in range(2):  # a second client when the minute turned mid-way
            client = make_client(account, f"limited{attempt}")
            limit_settings.set_rate_limits(client, requests_per_minute=5, by=None)
            window = int(time.time() // 60)
            path = _path(client)
            statuses = [
                httpx.post(f"http://127.0.0.1:{port}{path}", json=BODY).status_code
                for port in [first, second] * 5
            ]
            if int(time.time() // 60) == window:
                break
        assert statuses.count(200) == 5 and statuses.count(429) == 5
        assert {200, 429} <= set(statuses[0::2]) | set(statuses[1::2])
