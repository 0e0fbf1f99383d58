"""``Idempotency-Key`` under concurrency (issue 21, item 6): eight identical POSTs sent at
once create one object, and all eight get the same answer (the secret of an API key or
an invitation link in the first one only); keys expire after 24 hours."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

import app.blueprints.management.common as management
from app.extensions import db
from app.models import AccountInvitation, ApiKey, IdempotentRequest, LlmClient
from app.models.common import utcnow
from tests.management.conftest import Tenant

CALLERS = 8
SECRET = {"api-keys": "key", "members": "accept_url", "clients": None}
BODY = {
    "api-keys": {"label": "ci"},
    "members": {"email": "new@alpha.test"},
    "clients": {"name": "helper"},
}


def _created(kind: str) -> int:
    model, where = {
        "api-keys": (ApiKey, ApiKey.label == "ci"),
        "members": (AccountInvitation, AccountInvitation.email == "new@alpha.test"),
        "clients": (LlmClient, LlmClient.name == "helper"),
    }[kind]
    count = db.session.execute(select(func.count(model.id)).where(where)).scalar_one()
    db.session.rollback()
    return count


def _post_at_once(app: Flask, token: str, url: str, body: dict, key: str) -> list[tuple]:
    """``CALLERS`` threads, released together by a barrier, each POSTing the same request."""
    barrier = threading.Barrier(CALLERS)
    answers: list[Any] = [None] * CALLERS

    def post(i: int) -> None:
        http = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        barrier.wait()
        response = http.post(f"/api/v1{url}", json=body, headers=headers)
        answers[i] = (
            response.status_code,
            response.get_json(),
            response.headers.get("Idempotent-Replayed"),
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("kind", ["api-keys", "members", "clients"])
def test_eight_identical_posts_at_once_create_one_object_and_answer_alike(
    app: Flask, tenant_a: Tenant, kind: str
):
    url = f"/accounts/{tenant_a.account.id}/{kind}"
    answers = _post_at_once(app, tenant_a.owner_token, url, BODY[kind], f"{kind}-once")
    assert _created(kind) == 1
    assert [status for status, _, _ in answers] == [201] * CALLERS, answers
    secret = SECRET[kind]
    if secret is not None:
        shown = [body[secret] for _, body, _ in answers if body[secret] is not None]
        assert len(shown) == 1  # the secret is answered once, never replayed
        for _, body, _ in answers:
            body[secret] = None
    assert all(body == answers[0][1] for _, body, _ in answers)
    assert sorted(str(replayed) for _, _, replayed in answers) == ["None"] + ["true"] * 7


def test_a_key_expires_after_24_hours(api, tenant_a: Tenant):
    caller = api(tenant_a.owner_token)
    url = f"/accounts/{tenant_a.account.id}/clients"
    headers = {"Idempotency-Key": "old"}
    assert caller("POST", url, json={"name": "first"}, headers=headers).status_code == 201
    stored = db.session.execute(select(IdempotentRequest)).scalar_one()
    stored.created_at -= timedelta(hours=24, seconds=1)
    db.session.commit()
    again = caller("POST", url, json={"name": "second"}, headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["name"] == "second"
    assert db.session.execute(select(func.count(IdempotentRequest.id))).scalar_one() == 1


def test_a_failed_request_gives_its_key_up(api, tenant_a: Tenant, make_client):
    """A refusal is not kept: once its cause is gone, a retry with the key runs."""
    taken = make_client(tenant_a.account, "helper", deployed=False)
    caller = api(tenant_a.owner_token)
    url = f"/accounts/{tenant_a.account.id}/clients"
    headers = {"Idempotency-Key": "retry-me"}
    refused = caller("POST", url, json={"name": "helper"}, headers=headers)
    assert refused.status_code == 409
    db.session.delete(taken)
    db.session.commit()
    retried = caller("POST", url, json={"name": "helper"}, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert _created("clients") == 1


def _claim_left(tenant: Tenant, key: str, age: timedelta, body: dict) -> None:
    """A claim of a request still running (or whose process died ``age`` ago)."""
    url = f"/api/v1/accounts/{tenant.account.id}/clients"
    fingerprint = hashlib.sha256(
        b"\0".join([b"POST", url.encode(), json.dumps(body).encode()])
    ).hexdigest()
    db.session.add(
        IdempotentRequest(
            user_id=tenant.owner.id,
            key=key,
            fingerprint=fingerprint,
            status=0,
            body="",
            created_at=utcnow() - age,
        )
    )
    db.session.commit()


def test_a_request_still_running_is_waited_for_then_refused_and_an_abandoned_one_given_up(
    api, tenant_a: Tenant, monkeypatch
):
    monkeypatch.setattr(management, "IDEMPOTENCY_WAIT_SECONDS", 0.2)
    caller = api(tenant_a.owner_token)
    url = f"/accounts/{tenant_a.account.id}/clients"
    body = {"name": "helper"}
    _claim_left(tenant_a, "running", timedelta(seconds=1), body)
    waiting = caller("POST", url, data=json.dumps(body), headers=_json_with_key("running"))
    assert waiting.status_code == 409 and waiting.headers["Retry-After"] == "1"
    assert waiting.get_json()["error"]["code"] == "idempotency_in_progress"
    assert _created("clients") == 0
    _claim_left(tenant_a, "died", timedelta(minutes=11), body)
    taken_over = caller("POST", url, data=json.dumps(body), headers=_json_with_key("died"))
    assert taken_over.status_code == 201 and "Idempotent-Replayed" not in taken_over.headers
    assert _created("clients") == 1


def _json_with_key(key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}
