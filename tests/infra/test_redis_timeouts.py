"""A Redis that stops answering (paused with SIGSTOP: its port still accepts connections,
nothing replies) must not hold requests: every Redis client has connect and read
timeouts, so a deploy is refused with a clear 503 and nothing changed, and the shared
client works again once Redis answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import DeploymentStatus, InfraRun, LlmClient
from app.queue import redis_connection
from app.services import tokens
from app.services.users import create_admin
from devtools.services import RedisServer, redis_server_process

# A request that outlives this is hanging (the fix answers within the 1 s read timeout;
# before it, the probe's deploy hung for 10 minutes).
HANG = 60.0


@pytest.fixture(scope="module")
def redis_process() -> Iterator[RedisServer]:
    with redis_server_process() as server:
        yield server


@pytest.fixture
def queue_app(app, make_app, redis_process):
    """The test app on a real Redis, with short Redis timeouts."""
    application = make_app(
        REDIS_URL=redis_process.url,
        REDIS_CONNECT_TIMEOUT_SECONDS=1.0,
        REDIS_READ_TIMEOUT_SECONDS=1.0,
    )
    with application.app_context():
        yield application
        db.session.remove()


def answered(call: Callable[[], Any]) -> Any:
    """``call()``'s result, from a thread: a call still blocked after HANG seconds fails
    the test instead of hanging it."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"no answer within {HANG:g}s: the request hangs"
    assert result, "the call raised (see the thread's traceback above)"
    return result[0]


def _runs() -> int:
    return db.session.scalar(select(func.count()).select_from(InfraRun)) or 0


def test_a_paused_redis_refuses_a_deploy_with_503_and_nothing_changed(
    queue_app, redis_process, account, make_client
):
    client = make_client(account, "patient", deployed=False)
    admin, _ = create_admin("root@chatdock.test", "correct horse battery")
    headers = {"Authorization": f"Bearer {tokens.create_token(admin).plaintext}"}
    http, deploy = queue_app.test_client(), f"/api/v1/clients/{client.id}/deploy"
    assert redis_connection().ping()  # the shared pool holds an idle connection now

    with redis_process.paused():
        response = answered(lambda: http.post(deploy, headers=headers))
        assert response.status_code == 503, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "queue_unavailable"
        assert "Redis (the job queue) is not answering" in error["message"]
        assert "nothing was changed" in error["message"]
        db.session.expire_all()
        assert _runs() == 0
        assert db.session.get(LlmClient, client.id).deployment_status == DeploymentStatus.DRAFT

        cli = queue_app.test_cli_runner()
        args = ["clients", "deploy", "patient", "--account", account.account_number]
        result = answered(lambda: cli.invoke(args=args))
        assert result.exit_code == 1, result.output
        assert "Redis (the job queue) is not answering" in result.output
        assert _runs() == 0

        ready = answered(lambda: http.get("/readyz"))
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["redis"] == "failed: TimeoutError"

    # Redis answers again: the same shared client serves the next request.
    response = answered(lambda: http.post(deploy, headers=headers))
    assert response.status_code == 202, response.get_json()
    assert _runs() == 1


def test_the_shared_client_is_one_per_process_and_url(queue_app, redis_process):
    first, second = redis_connection(), redis_connection()
    assert first is second
    kwargs = first.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 1.0 and kwargs["socket_connect_timeout"] == 1.0
