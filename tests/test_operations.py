"""Probes, metrics and logs as an operator sees them."""

from __future__ import annotations

import json
import logging

import pytest

from app.services import api_keys
from devtools.services import free_port, redis_server
from tests.conftest import host_of

BODY = {"messages": [{"role": "user", "content": "metrics please"}]}


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_tokens_and_provider_errors(http, demo):
    before = http.get("/metrics").get_data(as_text=True)
    http.post("/llm-client/", json=BODY, headers={"Host": host_of(demo)})
    bad = {"messages": [{"role": "user", "content": "__echo_error__"}]}
    http.post("/llm-client/", json=bad, headers={"Host": host_of(demo)})
    after = http.get("/metrics").get_data(as_text=True)
    labels = {"method": "POST", "endpoint": "/llm-client/", "status": "200"}
    name = "chatdock_http_requests_total"
    assert metric(after, name, **labels) == metric(before, name, **labels) + 1
    tokens = "chatdock_llm_tokens_total"
    assert metric(after, tokens, provider="echo", kind="completion") == (
        metric(before, tokens, provider="echo", kind="completion") + 3
    )
    errors = "chatdock_provider_errors_total"
    assert metric(after, errors, provider="echo", code="provider_error") == (
        metric(before, errors, provider="echo", code="provider_error") + 1
    )
    assert "chatdock_http_request_duration_seconds_bucket" in after


def test_readyz_checks_redis_when_configured(app, make_app):
    with redis_server() as url:
        ready = make_app(REDIS_URL=url).test_client().get("/readyz")
        assert ready.status_code == 200
        assert ready.json["checks"] == {"database": "ok", "redis": "ok"}
    down = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client().get("/readyz")
    assert down.status_code == 503
    assert down.json["checks"]["redis"].startswith("failed")


def test_request_id_is_kept_or_made(http):
    assert http.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == (
        "abc-123"
    )
    made = http.get("/healthz", headers={"X-Request-ID": "bad id; drop"}).headers["X-Request-ID"]
    assert len(made) == 32


@pytest.fixture
def json_logs():
    """Capture what the app's JSON log handler writes."""
    records: list[str] = []
    root = logging.getLogger()
    formatter = root.handlers[0].formatter

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(formatter.format(record))

    handler = Collect()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def test_logs_are_json_with_request_id_and_never_the_key(http, account, make_client, json_logs):
    client = make_client(account, "locked", require_api_key=True)
    key = api_keys.create_api_key(account).plaintext
    response = http.post(
        "/llm-client/",
        json=BODY,
        headers={"Host": host_of(client), "x-api-key": key, "X-Request-ID": "trace-1"},
    )
    assert response.status_code == 200
    lines = [json.loads(line) for line in json_logs]
    access = [line for line in lines if line.get("event") == "request"]
    assert access and access[-1]["request_id"] == "trace-1"
    assert access[-1]["status"] == 200 and access[-1]["client_id"] == client.id
    secret = key.split("_", 2)[2]
    assert all(secret not in line for line in json_logs)


def test_unexpected_errors_are_json_500_without_traceback(app, http, monkeypatch):
    from app.blueprints import health

    def boom():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(health, "_check_database", boom)
    response = http.get("/readyz")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)


def test_client_lifecycle_logs_can_be_switched_off(app, make_app, json_logs):
    from app.services.accounts import create_account
    from app.services.clients import create_client, parse_spec

    account = create_account("Logged")
    create_client(account, parse_spec(name="loud"), deployed=True)
    assert any('"client_created"' in line and '"loud"' in line for line in json_logs)
    quiet = make_app(LOG_CLIENTS=False)
    with quiet.app_context():
        create_client(create_account("Quiet"), parse_spec(name="quiet"), deployed=True)
    assert not any('"quiet"' in line for line in json_logs)


def test_metric_labels_stay_bounded_whatever_the_request(http, demo):
    """Issue 17, Medium 7: each made-up method name created a new series."""
    before = http.get("/metrics").get_data(as_text=True)
    for n in range(40):
        http.open("/llm-client/", method=f"ZMA{n:04d}", headers={"Host": host_of(demo)})
        http.open(f"/no/such/path/{n}", method="GET", headers={"Host": "localhost"})
    after = http.get("/metrics").get_data(as_text=True)
    assert "ZMA" not in after and "/no/such/path" not in after
    name = "chatdock_http_requests_total"
    assert metric(after, name, method="other", endpoint="unmatched", status="405") == (
        metric(before, name, method="other", endpoint="unmatched", status="405") + 40
    )
    assert metric(after, name, method="GET", endpoint="unmatched", status="404") == (
        metric(before, name, method="GET", endpoint="unmatched", status="404") + 40
    )

    def series(text: str) -> set[str]:
        return {line.split(" ")[0] for line in text.splitlines() if line.startswith(name + "{")}

    # 80 odd requests add at most their two bounded series (and the /metrics call's own).
    assert len(series(after) - series(before)) <= 3


def test_metric_status_labels_are_real_status_codes():
    from app.metrics import method_label, status_label

    assert [method_label(m) for m in ("GET", "PROPFIND", "ZMAAAA")] == ["GET", "other", "other"]
    assert [status_label(s) for s in (200, 418, 299, 999)] == ["200", "418", "other", "other"]
