"""The tool loop in chatdock as shipped (gunicorn.conf.py, gevent workers): the calls of
a round run at once, and no database transaction is open while they run."""

from __future__ import annotations

import httpx
import pytest

from app.extensions import db
from tests.conftest import on_own_connection
from tests.live import gunicorn, shipped_env
from tests.tools.shop_server import base_url, running_shop

pytestmark = pytest.mark.postgresql_only  # pg_stat_activity is what it reads


def idle_in_transaction(database_url: str) -> int:
    [(count,)] = on_own_connection(
        database_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'idle in transaction' AND pid <> pg_backend_pid()",
    )
    return int(count)


@pytest.fixture
def app(tools_app):
    with tools_app(TOOLS_ALLOWED_NETWORKS="127.0.0.1/32") as application:
        yield application


def test_parallel_calls_under_gevent_hold_no_transaction(migrated, customer):
    with running_shop("127.0.0.1") as shop:
        seen: list[int] = []
        shop.on_together = lambda: seen.append(idle_in_transaction(migrated))
        customer.connection("shop-api", {"type": "api", "api": {"baseUrl": base_url(shop)}})
        spec = {
            "type": "api",
            "parameters": [{"name": "who", "type": "string"}],
            "api": {"connection": "shop-api", "path": "/together"},
        }
        customer.plugin("meet", spec)
        customer.attach(plugins=["meet"])
        path = f"/api/v0/llm-clients/{customer.client.id}/{customer.client.name}/"
        db.session.close()
        env = shipped_env(migrated, TOOLS_ALLOWED_NETWORKS="127.0.0.1/32")
        with gunicorn(env, workers=1) as port:
            body = {
                "messages": [
                    {"role": "user", "content": '/tool meet {"who": "a"}\n/tool meet {"who": "b"}'}
                ]
            }
            response = httpx.post(f"http://127.0.0.1:{port}{path}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = 'meet -> {"status": 200, "body": {"together": true}}'
    assert response.json()["reply"] == f"echo: {answer}\n{answer}"
    assert seen == [0]  # both calls in flight, and no transaction open meanwhile
