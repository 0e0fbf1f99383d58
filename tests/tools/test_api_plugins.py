"""``api`` plugins against a local HTTP server: typed arguments, URL-encoding of path
values, JSON bodies, redirects and servers the network guard refuses, the size cap, a
tool that times out in the loop, and header secrets never shown.

The server listens on 127.0.0.1, so the tests that reach it allow 127.0.0.1/32 in
TOOLS_ALLOWED_NETWORKS; the ones that prove refusal leave it out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ToolCallRecord
from tests.tools.conftest import make_customer
from tests.tools.shop_server import Shop, base_url, running_shop

TOKEN = "Bearer tok-Sup3r-secret-header"


@pytest.fixture(scope="module")
def shop_api() -> Iterator[Shop]:
    with running_shop("127.0.0.1") as server:
        yield server


@pytest.fixture
def app(tools_app):
    with tools_app(TOOLS_ALLOWED_NETWORKS="127.0.0.1/32", TOOLS_TIMEOUT_SECONDS=0.5) as application:
        yield application


@pytest.fixture
def shop(app, make_client, shop_api):
    shop_api.seen.clear()
    customer = make_customer("Shop", make_client, app.test_client())
    headers = [{"name": "Authorization", "value": TOKEN}]
    customer.connection(
        "shop-api", {"type": "api", "api": {"baseUrl": base_url(shop_api), "headers": headers}}
    )
    return customer


def api_plugin(shop, name: str, method: str, path: str, parameters: list[dict]) -> int:
    spec = {
        "type": "api",
        "description": name,
        "selector": {"always": True},
        "parameters": parameters,
        "api": {"connection": "shop-api", "method": method, "path": path},
    }
    return shop.plugin(name, spec)["id"]


def run(shop, plugin_id: int, **arguments) -> dict:
    response = shop.api("POST", f"/plugins/{plugin_id}/test", {"arguments": arguments})
    assert response.status_code == 200, response.json
    return response.json


ORDER = [
    {"name": "order_id", "type": "string", "required": True},
    {"name": "verbose", "type": "boolean"},
    {"name": "page", "type": "integer", "default": 1},
]


def test_path_values_are_encoded_and_the_rest_is_the_query(shop, shop_api):
    plugin = api_plugin(shop, "order-status", "GET", "/orders/{order_id}", ORDER)
    result = run(shop, plugin, order_id="../admin?x=1", verbose=True)
    assert result["outcome"] == "ok"
    assert shop_api.seen[-1]["path"] == "/orders/..%2Fadmin%3Fx%3D1?page=1&verbose=true"
    assert shop_api.seen[-1]["auth"] == TOKEN  # the connection's header is sent...
    assert TOKEN not in json.dumps(result)  # ...never shown


def test_wrong_types_are_not_sent(shop, shop_api):
    plugin = api_plugin(shop, "order-status", "GET", "/orders/{order_id}", ORDER)
    result = run(shop, plugin, order_id="7", page="two")
    assert result == {
        "outcome": "invalid",
        "result": "error: invalid arguments: page: 'two' is not of type 'integer'",
        "duration_ms": result["duration_ms"],
    }
    assert shop_api.seen == []


def test_a_post_sends_the_arguments_as_json(shop, shop_api):
    parameters = [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}]
    plugin = api_plugin(shop, "add-to-cart", "POST", "/cart", parameters)
    result = run(shop, plugin, sku="A-1", qty=2)
    assert json.loads(json.loads(result["result"])["body"]["body"]) == {"sku": "A-1", "qty": 2}


def test_a_redirect_to_a_private_address_is_refused(shop, shop_api):
    plugin = api_plugin(shop, "hop", "GET", "/redirect", [])
    result = run(shop, plugin)
    assert result["outcome"] == "refused"
    assert "10.1.2.3" in result["result"] and "private" in result["result"]


def test_a_ten_megabyte_answer_is_cut(shop):
    plugin = api_plugin(shop, "big", "GET", "/big", [])
    result = run(shop, plugin)
    assert result["outcome"] == "ok"
    limit = 16_000  # TOOLS_MAX_RESULT_CHARS
    assert len(result["result"]) < limit + 100
    assert result["result"].endswith(f"[cut: the result was longer than {limit} characters]")


def test_a_tool_that_times_out_is_an_error_result_in_the_chat(shop):
    api_plugin(shop, "slow", "GET", "/slow", [])
    shop.attach(plugins=["slow"])
    response = shop.chat("/tool slow {}")
    assert response.status_code == 200
    assert response.json["reply"].startswith("echo: slow -> error: ")
    assert "0.5s" in response.json["reply"]
    outcome = db.session.execute(select(ToolCallRecord.outcome)).scalar_one()
    assert outcome == "timeout"


def test_headers_are_shown_as_set_only(shop):
    listing = shop.api("GET", f"/accounts/{shop.account.id}/connections")
    assert listing.json["items"][0]["spec"]["api"]["headers"] == "set"
    assert "Sup3r" not in listing.get_data(as_text=True)


def test_a_server_outside_the_allowed_networks_is_never_reached(tools_app, make_client, shop_api):
    shop_api.seen.clear()
    with tools_app(TOOLS_TIMEOUT_SECONDS=0.5) as app:  # TOOLS_ALLOWED_NETWORKS left empty
        shop = make_customer("Closed", make_client, app.test_client())
        spec = {"type": "api", "api": {"baseUrl": base_url(shop_api)}}
        refused = shop.api(
            "POST", f"/accounts/{shop.account.id}/connections", {"name": "x", "spec": spec}
        )
        assert refused.status_code == 400
        assert "loopback" in refused.json["error"]["message"]
    assert shop_api.seen == []


def test_secrets_never_reach_the_logs(tools_app, make_client, shop_api, capfd):
    with tools_app(TOOLS_ALLOWED_NETWORKS="127.0.0.1/32", LOG_LEVEL="DEBUG") as app:
        shop = make_customer("Logged", make_client, app.test_client())
        headers = [{"name": "Authorization", "value": TOKEN}]
        spec = {"type": "api", "api": {"baseUrl": base_url(shop_api), "headers": headers}}
        shop.connection("shop-api", spec)
        shop.api(
            "PUT",
            "/connections/1",
            {"spec": {"type": "api", "api": {"baseUrl": "x", "headers": headers}}},
        )
        api_plugin(shop, "hop", "GET", "/redirect", [])
        api_plugin(shop, "order", "GET", "/orders/{order_id}", ORDER)
        shop.attach(plugins=["hop", "order"])
        shop.chat('/tool hop {}\n/tool order {"order_id": "1"}\n/tool order {"order_id": 1}')
        shop.api("POST", "/connections/1/test")
    out, err = capfd.readouterr()
    assert "shop-api" in out + err or "tool" in out + err, "nothing was logged"
    assert "Sup3r" not in out + err
    assert shop_api.seen and shop_api.seen[-1]["auth"] == TOKEN  # it was used all along


def test_a_redirect_to_another_host_goes_without_the_secrets(tools_app, make_client, shop_api):
    allowed = tools_app(TOOLS_ALLOWED_NETWORKS="127.0.0.0/8")
    with running_shop("127.0.0.2") as other, allowed as app:
        shop_api.away = f"{base_url(other)}/landed"
        shop = make_customer("Away", make_client, app.test_client())
        headers = [
            {"name": "X-Api-Key", "value": "key-Sup3r"},
            {"name": "Authorization", "value": TOKEN},
        ]
        spec = {"type": "api", "api": {"baseUrl": base_url(shop_api), "headers": headers}}
        shop.connection("shop-api", spec)
        result = run(shop, api_plugin(shop, "away", "GET", "/away", []))
    assert result["outcome"] == "ok"
    assert shop_api.seen[-1]["key"] == "key-Sup3r"  # the connection's own host gets them
    assert other.seen == [
        {"method": "GET", "path": "/landed", "auth": None, "key": None, "body": ""}
    ]


def test_the_calls_of_a_round_run_at_once(shop, shop_api):
    api_plugin(shop, "meet", "GET", "/together", [{"name": "who", "type": "string"}])
    shop.attach(plugins=["meet"])
    reply = shop.chat('/tool meet {"who": "a"}\n/tool meet {"who": "b"}').json["reply"]
    # Each call is answered only while the other one is in flight too.
    answer = 'meet -> {"status": 200, "body": {"together": true}}'
    assert reply == f"echo: {answer}\n{answer}"
