"""The network guard: what a tool, a connection or a provider base URL may reach.

Real sockets: a local HTTP server on 127.0.0.1 stands for "a service inside the
cluster", reached only when TOOLS_ALLOWED_NETWORKS lets loopback in."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.netguard import (
    NetworkRefused,
    check_address,
    check_url,
    guarded_http_client,
    refusal_reason,
    resolve_checked,
    was_truncated,
)

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        _Handler.hits.append(self.path)
        if self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1]
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        body = b"x" * 3_000_000 if self.path == "/big" else b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Handler.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is the IPv4 address
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused_with_their_reason(address, reason):
    ip = ipaddress.ip_address(address)
    assert refusal_reason(ip) == reason
    with pytest.raises(NetworkRefused, match=reason):
        check_address(address, [])


def test_public_addresses_pass_and_allowed_networks_are_the_exception():
    assert check_address("93.184.215.14", []) == ipaddress.ip_address("93.184.215.14")
    assert check_address("2606:4700::1111", [])
    allowed = [ipaddress.ip_network("10.20.0.0/16")]
    assert check_address("10.20.3.4", allowed)
    with pytest.raises(NetworkRefused):
        check_address("10.21.3.4", allowed)


def test_a_name_is_judged_by_every_address_it_resolves_to():
    with pytest.raises(NetworkRefused, match=r"localhost \(127\.0\.0\.1\) is a loopback"):
        resolve_checked("localhost", 80, [])
    both_loopbacks = [*LOOPBACK, ipaddress.ip_network("::1/128")]
    assert set(resolve_checked("localhost", 80, both_loopbacks)) <= {"127.0.0.1", "::1"}
    with pytest.raises(NetworkRefused, match="does not resolve"):
        resolve_checked("no-such-host.invalid", 80, [])


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "http:///nohost", "file:///etc/passwd", "not a url"]
)
def test_a_base_url_must_be_http_with_a_host(url):
    with pytest.raises(NetworkRefused):
        check_url(url, [])


def test_a_server_on_a_refused_address_is_never_reached(local_server):
    client = guarded_http_client([], timeout=5)
    with client, pytest.raises(NetworkRefused, match="loopback"):
        client.get(f"{local_server}/orders")
    assert _Handler.hits == []  # no connection was made


def test_an_allowed_network_is_reached(local_server):
    with guarded_http_client(LOOPBACK, timeout=5) as client:
        assert client.get(f"{local_server}/orders").json() == {"ok": True}
    assert _Handler.hits == ["/orders"]


def test_a_redirect_to_a_refused_address_is_not_followed(local_server, monkeypatch):
    # The first hop is allowed only for 127.0.0.1; the redirect goes to 127.0.0.2
    # (also loopback, on the same server's port) which is not in the allowed list.
    only_first = [ipaddress.ip_network("127.0.0.1/32")]
    port = local_server.rsplit(":", 1)[1]
    target = f"http://127.0.0.2:{port}/secret"
    client = guarded_http_client(only_first, timeout=5, follow_redirects=True)
    with client, pytest.raises(NetworkRefused, match=r"127\.0\.0\.2"):
        client.get(f"{local_server}/redirect?to={target}")
    assert _Handler.hits == [f"/redirect?to={target}"]


def test_a_body_past_the_cap_is_cut(local_server):
    with guarded_http_client(LOOPBACK, timeout=5, max_response_bytes=1000) as client:
        response = client.get(f"{local_server}/big")
        assert len(response.content) == 1000
        assert was_truncated(response)
        small = client.get(f"{local_server}/orders")
        assert small.json() == {"ok": True} and not was_truncated(small)


def test_proxy_variables_do_not_bypass_the_guard(local_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    with guarded_http_client(LOOPBACK, timeout=5) as client:
        assert client.get(f"{local_server}/orders").status_code == 200


def test_connection_errors_stay_httpx_errors():
    # A closed port on an allowed address: the caller sees httpx's ConnectError.
    client = guarded_http_client(LOOPBACK, timeout=2)
    with client, pytest.raises(httpx.ConnectError):
        client.get("http://127.0.0.1:9/")
