"""The plugins and connections API: bad input changes nothing, names are unique, a
connection in use stays, and another account's objects are out of reach."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Connection, Plugin
from tests.tools.conftest import make_customer

STATIC = {"type": "static", "static": {"data": [1, 2]}}
API = {"type": "api", "api": {"baseUrl": "https://8.8.8.8"}}  # public, saved only


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_bad_specs_are_refused_with_the_field_and_change_nothing(customer):
    path = f"/accounts/{customer.account.id}/plugins"
    cases = [
        ({"name": "x", "spec": {**STATIC, "colour": "red"}}, "spec.colour: Extra inputs"),
        ({"name": "x", "spec": {"type": "static"}}, "needs its static block"),
        ({"name": "x y", "spec": STATIC}, "letters, digits, _ or -"),
        ({"name": "calculator", "spec": STATIC}, "a built-in function's name"),
        (
            {"name": "x", "spec": {**STATIC, "parameters": [{"name": "n", "type": "date"}]}},
            "spec.parameters.0.type",
        ),
        (
            {
                "name": "x",
                "spec": {"type": "sql", "sql": {"connection": "db", "query": "select :id"}},
            },
            "undeclared parameters: ['id']",
        ),
        (
            {"name": "x", "spec": {"type": "api", "api": {"connection": "nope", "path": "/a"}}},
            "no connection 'nope' in this account",
        ),
    ]
    for body, message in cases:
        response = customer.api("POST", path, body)
        assert response.status_code == 400, body
        assert message in response.json["error"]["message"], response.json
    assert count(Plugin) == 0


def test_names_are_unique_and_a_used_connection_stays(customer):
    connection = customer.connection("shop-api", API)
    again = customer.api(
        "POST", f"/accounts/{customer.account.id}/connections", {"name": "shop-api", "spec": API}
    )
    assert again.status_code == 409
    spec = {"type": "api", "api": {"connection": "shop-api", "path": "/hours"}}
    plugin = customer.plugin("hours", spec)
    assert plugin["spec"]["api"] == {"connection": "shop-api", "method": "GET", "path": "/hours"}
    refused = customer.api("DELETE", f"/connections/{connection['id']}")
    assert refused.status_code == 409
    assert "used by plugins: hours" in refused.json["error"]["message"]
    customer.attach(plugins=["hours"])
    assert customer.api("DELETE", f"/plugins/{plugin['id']}").status_code == 204
    assert customer.api("DELETE", f"/connections/{connection['id']}").status_code == 204
    assert (count(Plugin), count(Connection)) == (0, 0)


def test_a_spec_reads_back_as_it_was_written(customer):
    spec = {
        "type": "static",
        "description": "Hours",
        "selector": {"searchTerms": ["open", "opening hours"]},
        "parameters": [
            {
                "name": "day",
                "type": "string",
                "description": "",
                "required": True,
                "enum": ["mon", "tue"],
                "default": "mon",
            }
        ],
        "static": {"data": {"mon": "9-18"}},
    }
    created = customer.plugin("hours", spec)
    shown = customer.api("GET", f"/plugins/{created['id']}").json
    assert shown["spec"] == {
        **spec,
        "selector": {"always": False, "searchTerms": ["open", "opening hours"]},
    }
    changed = customer.api("PUT", f"/plugins/{created['id']}", {"spec": shown["spec"]})
    assert changed.status_code == 200 and changed.json["spec"] == shown["spec"]


def test_another_accounts_plugins_and_connections_are_out_of_reach(customer, make_client, http):
    other = make_customer("Other", make_client, http)
    connection = customer.connection("shop-api", API)
    plugin = customer.plugin("hours", STATIC)
    for method, path, body in [
        ("GET", f"/plugins/{plugin['id']}", None),
        ("PUT", f"/plugins/{plugin['id']}", {"spec": STATIC}),
        ("POST", f"/plugins/{plugin['id']}/test", {"arguments": {}}),
        ("DELETE", f"/plugins/{plugin['id']}", None),
        ("GET", f"/connections/{connection['id']}", None),
        ("PUT", f"/connections/{connection['id']}", {"spec": API}),
        ("POST", f"/connections/{connection['id']}/test", None),
        ("DELETE", f"/connections/{connection['id']}", None),
        ("GET", f"/accounts/{customer.account.id}/plugins", None),
        ("POST", f"/accounts/{customer.account.id}/plugins", {"name": "x", "spec": STATIC}),
        ("PUT", f"/clients/{customer.client.id}/tools", {"functions": ["calculator"]}),
    ]:
        response = other.api(method, path, body)
        assert response.status_code == 404, (method, path)
    # Names resolve in the caller's own account only.
    spec = {"type": "api", "api": {"connection": "shop-api", "path": "/x"}}
    refused = other.api(
        "POST", f"/accounts/{other.account.id}/plugins", {"name": "x", "spec": spec}
    )
    assert refused.status_code == 400
    attach = other.api("PUT", f"/clients/{other.client.id}/tools", {"plugins": ["hours"]})
    assert attach.status_code == 400
    assert "no plugin 'hours' in this account" in attach.json["error"]["message"]
    assert (count(Plugin), count(Connection)) == (1, 1)
    assert customer.api("GET", f"/plugins/{plugin['id']}").json["client_ids"] == []


def test_a_clients_spec_carries_its_plugins_and_functions(customer):
    plugin = customer.plugin("hours", STATIC)
    path = f"/clients/{customer.client.id}"
    changed = customer.api("PATCH", path, {"plugins": ["hours"], "functions": ["calculator"]})
    assert changed.status_code == 200, changed.json
    assert customer.chat("/tool hours {}").json["reply"] == "echo: hours -> [1, 2]"
    refused = customer.api("PATCH", path, {"plugins": ["hours", "nope"], "functions": []})
    assert refused.status_code == 400
    assert "no plugin 'nope' in this account" in refused.json["error"]["message"]
    assert customer.chat("/tool hours {}").json["reply"] == "echo: hours -> [1, 2]"  # unchanged
    created = customer.api(
        "POST",
        f"/accounts/{customer.account.id}/clients",
        {"name": "second", "plugins": ["hours"]},
    )
    assert created.status_code == 201, created.json
    shown = customer.api("GET", f"/plugins/{plugin['id']}")
    assert shown.json["client_ids"] == sorted([customer.client.id, created.json["id"]])


def test_a_connection_read_back_applies_with_no_change(customer):
    headers = [{"name": "Authorization", "value": "Bearer rt-Secret"}]
    created = customer.connection(
        "shop-api", {"type": "api", "api": {"baseUrl": "https://8.8.8.8", "headers": headers}}
    )
    assert created["spec"] == {
        "type": "api",
        "api": {"baseUrl": "https://8.8.8.8", "headers": "set"},
    }
    sealed = db.session.scalar(select(Connection.secrets))
    again = customer.api("PUT", f"/connections/{created['id']}", {"spec": created["spec"]})
    assert again.status_code == 200 and again.json["spec"] == created["spec"]
    assert db.session.scalar(select(Connection.secrets)) == sealed  # kept, not resealed
    sql = customer.connection("db", {"type": "sql", "sql": {"url": "postgresql://u@8.8.8.8/x"}})
    assert sql["spec"]["sql"]["password"] == "unset"
    back = customer.api("PUT", f"/connections/{sql['id']}", {"spec": sql["spec"]})
    assert back.json["spec"]["sql"]["password"] == "unset"


@pytest.mark.parametrize("name", ["hours\x00", "hours\n", "", "a" * 65, "../hours"])
def test_a_plugin_name_that_is_not_a_name_is_a_400(customer, name):
    """Found by the schema fuzzer on PostgreSQL: a NUL in a name reached the query (500)."""
    plugin = customer.plugin("hours", STATIC)
    answer = customer.api("PUT", f"/clients/{customer.client.id}/tools", {"plugins": [name]})
    assert answer.status_code == 400, answer.json
    assert "a plugin name is 1-64 letters, digits, _ or -" in answer.json["error"]["message"]
    assert customer.api("GET", f"/plugins/{plugin['id']}").json["client_ids"] == []
