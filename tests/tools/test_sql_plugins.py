"""``sql`` plugins against a real PostgreSQL database of a "customer" (a database created
on the test's PostgreSQL server): bound parameters, read-only, row limit, timeout, the
network guard, and the connection's password never shown."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, select, text

from app.extensions import db
from app.models import AuditEvent, Connection
from tests.conftest import new_database, on_own_connection
from tests.tools.conftest import make_customer

pytestmark = pytest.mark.postgresql_only

PASSWORD = "pg-s3cret-Reader-pw"


@pytest.fixture(scope="module")
def shop_db() -> Iterator[str]:
    """The customer's database: orders of two customers, read by a role with a password."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = os.environ["TEST_DATABASE_URL"]
    with new_database(server, f"customer_{worker}") as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE orders (id int PRIMARY KEY, customer text, status text)")
            )
            connection.execute(
                text(
                    "INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'ann' ELSE 'bob' END, "
                    "'shipped' FROM generate_series(1, 10) g"
                )
            )
        engine.dispose()
        yield make_url(url).set(password=None).render_as_string(hide_password=False)


def orders_left(url: str) -> int:
    [(count,)] = on_own_connection(url, "SELECT count(*) FROM orders")
    return int(count)


@pytest.fixture
def app(tools_app):
    with tools_app(
        TOOLS_ALLOWED_NETWORKS="127.0.0.1/32", TOOLS_SQL_MAX_ROWS=3, TOOLS_TIMEOUT_SECONDS=1.0
    ) as application:
        yield application


@pytest.fixture
def shop(app, make_client, shop_db):
    customer = make_customer("Shop", make_client, app.test_client())
    customer.connection("shopdb", {"type": "sql", "sql": {"url": shop_db, "password": PASSWORD}})
    return customer


def sql_plugin(shop, name: str, query: str, parameters: list[dict] | None = None) -> int:
    spec = {
        "type": "sql",
        "description": name,
        "parameters": parameters or [],
        "sql": {"connection": "shopdb", "query": query},
    }
    return shop.plugin(name, spec)["id"]


def test_plugin(shop, plugin_id: int, **arguments) -> dict:
    response = shop.api("POST", f"/plugins/{plugin_id}/test", {"arguments": arguments})
    assert response.status_code == 200, response.json
    return response.json


test_plugin.__test__ = False  # a helper, not a test


CUSTOMER = [{"name": "customer", "type": "string", "required": True}]


def test_arguments_are_bound_never_pasted(shop):
    plugin = sql_plugin(
        shop,
        "orders",
        "select id, status from orders where customer = :customer order by id",
        CUSTOMER,
    )
    assert test_plugin(shop, plugin, customer="ann")["result"] == (
        '{"rows": [{"id": 2, "status": "shipped"}, {"id": 4, "status": "shipped"}, '
        '{"id": 6, "status": "shipped"}], "row_count": 3, "truncated": true}'
    )
    injected = test_plugin(shop, plugin, customer="x' or '1'='1")
    assert injected["outcome"] == "ok"
    assert injected["result"] == '{"rows": [], "row_count": 0, "truncated": false}'


def test_a_writing_query_fails_and_the_table_is_intact(shop, shop_db):
    plugin = sql_plugin(
        shop, "wipe", "delete from orders where id > :above", [{"name": "above", "type": "integer"}]
    )
    result = test_plugin(shop, plugin, above=0)
    assert result["outcome"] == "error"
    assert "read-only transaction" in result["result"]
    assert orders_left(shop_db) == 10


def test_a_second_statement_is_refused_when_saved(shop):
    spec = {"type": "sql", "sql": {"connection": "shopdb", "query": "commit; delete from orders"}}
    response = shop.api("POST", f"/accounts/{shop.account.id}/plugins", {"name": "x", "spec": spec})
    assert response.status_code == 400
    assert "one statement" in response.json["error"]["message"]


def test_row_limit_and_timeout(shop):
    everything = sql_plugin(shop, "all-orders", "select id from orders order by id")
    result = test_plugin(shop, everything)
    assert result["result"].endswith('"row_count": 3, "truncated": true}')
    slow = sql_plugin(
        shop,
        "slow",
        "select pg_sleep(:seconds)",
        [{"name": "seconds", "type": "number", "required": True}],
    )
    result = test_plugin(shop, slow, seconds=10)
    assert result["outcome"] == "timeout"
    assert "statement timeout" in result["result"]


def test_a_model_reads_through_the_chat(shop):
    sql_plugin(
        shop, "orders", "select id from orders where customer = :customer and id < 5", CUSTOMER
    )
    shop.attach(plugins=["orders"])
    reply = shop.chat('/tool orders {"customer": "bob"}').json["reply"]
    assert (
        reply
        == 'echo: orders -> {"rows": [{"id": 1}, {"id": 3}], "row_count": 2, "truncated": false}'
    )


def test_the_password_is_never_shown(shop):
    listing = shop.api("GET", f"/accounts/{shop.account.id}/connections")
    assert listing.json["items"][0]["spec"]["sql"]["password"] == "set"
    connection_id = listing.json["items"][0]["id"]
    changed = shop.api(
        "PUT",
        f"/connections/{connection_id}",
        {"spec": {"type": "sql", "sql": {"url": "postgresql://u@127.0.0.1/x"}}},
    )
    assert changed.status_code == 200
    assert changed.json["spec"]["sql"] == {"url": "postgresql://u@127.0.0.1/x", "password": "set"}
    bad = shop.api(
        "PUT",
        f"/connections/{connection_id}",
        {"spec": {"type": "sql", "sql": {"url": "sqlite:///x", "password": PASSWORD}}},
    )
    assert bad.status_code == 400
    for response in (
        listing,
        changed,
        bad,
        shop.api("GET", f"/accounts/{shop.account.id}/plugins"),
    ):
        assert PASSWORD not in response.get_data(as_text=True)
    events = db.session.execute(select(AuditEvent.action, AuditEvent.changes)).all()
    assert "connection.created" in [e.action for e in events]
    assert PASSWORD not in json.dumps([e.changes for e in events])
    sealed = db.session.execute(select(Connection.secrets)).scalar_one()
    assert sealed and PASSWORD not in sealed


def test_a_database_outside_the_allowed_networks_is_never_reached(tools_app, make_client, shop_db):
    with tools_app(TOOLS_TIMEOUT_SECONDS=1.0) as app:  # TOOLS_ALLOWED_NETWORKS left empty
        shop = make_customer("Closed", make_client, app.test_client())
        shop.connection("shopdb", {"type": "sql", "sql": {"url": shop_db}})
        plugin = sql_plugin(shop, "orders", "select 1")
        result = test_plugin(shop, plugin)
        assert result["outcome"] == "refused"
        assert "127.0.0.1" in result["result"] and "loopback" in result["result"]
