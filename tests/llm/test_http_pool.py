"""The model calls' connection pool (app/http_pool.py) against a real keep-alive HTTP
server: connections are reused, a connection the server closed while idle is replaced
rather than failing the next call, and many calls at once each get a connection."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.http_pool import LinearConnectionPool, PooledTransport, pooled_client
from app.llm.base import ChatRequest, ChatTurn
from app.llm.openai_compat import OpenAICompatibleProvider


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    in_flight = 0
    peak = 0
    hold = 0.0
    barrier: threading.Barrier | None = None  # answer only once this many calls are in
    lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 0.3  # an idle keep-alive connection is closed by the server after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.in_flight += 1
            self.server.peak = max(self.server.peak, self.server.in_flight)
        time.sleep(self.server.hold)
        status = 200
        if self.server.barrier is not None:
            try:
                self.server.barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                status = 503
        with self.server.lock:
            self.server.in_flight -= 1
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # an OpenAI chat stream, chunked, on a kept-alive connection
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delta = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
        for event in (b"data: " + json.dumps(delta).encode() + b"\n\n", b"data: [DONE]\n\n"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/"


def test_the_provider_clients_use_the_linear_pool():
    client = pooled_client(5)
    transport = client._transport
    assert isinstance(transport, PooledTransport)
    assert isinstance(transport._pool, LinearConnectionPool)


def test_connections_are_reused_between_calls(server):
    with pooled_client(5) as client:
        for _ in range(5):
            assert client.get(_url(server)).text == "ok"
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(server):
    with pooled_client(5) as client:
        assert client.get(_url(server)).status_code == 200
        time.sleep(0.6)  # the server closes the idle connection after 0.3 s
        assert client.get(_url(server)).status_code == 200  # no RemoteProtocolError
    assert server.connections == 2


def test_a_pool_full_of_closed_connections_still_serves(server):
    """A stream its caller left half-read closes its connection; closed connections are
    dropped when the pool tidies, at the latest when it is full: a call never waits for
    a slot a dead connection holds."""
    transport = PooledTransport(limits=httpx.Limits(max_connections=2, max_keepalive_connections=2))
    with httpx.Client(transport=transport, timeout=3) as client:
        for _ in range(4):
            with client.stream("POST", _url(server), content=b"{}") as response:
                assert response.status_code == 200  # then closed unread: a caller gone
        assert client.get(_url(server)).text == "ok"
    assert server.connections == 5


def test_many_calls_at_once_each_get_a_connection_and_keep_it(server):
    server.barrier = threading.Barrier(40)  # a 200 only when all 40 are held at once
    with pooled_client(15) as client:

        def call(_: int) -> int:
            return client.get(_url(server)).status_code

        with ThreadPoolExecutor(40) as pool:
            assert list(pool.map(call, range(40))) == [200] * 40
        assert server.peak == 40
        opened = server.connections
        with ThreadPoolExecutor(40) as pool:
            assert list(pool.map(call, range(40))) == [200] * 40
    assert opened == 40
    assert server.connections == 40  # the second round reused the kept-alive ones


def test_idle_connections_beyond_the_keepalive_cap_are_closed(server):
    server.hold = 0.1
    transport = PooledTransport(
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=3)
    )
    with httpx.Client(transport=transport) as client:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: client.get(_url(server)).status_code, range(8)))
        client.get(_url(server))  # a pool operation with all 8 idle
        assert len(transport._pool.connections) <= 3


def test_a_finished_openai_stream_gives_its_connection_back(server):
    """The SDK's own reader stops at [DONE] and closes the connection; the adapter reads
    the body's end, so the next stream reuses the connection (no new TLS handshake)."""
    provider = OpenAICompatibleProvider("sk-test", _url(server) + "v1", 5, pooled_client(5))
    request = ChatRequest(
        model="m",
        messages=[ChatTurn(role="user", content="hi")],
        system_prompt="",
        temperature=0.0,
        max_tokens=5,
    )
    for _ in range(3):
        assert "".join(chunk.delta for chunk in provider.stream(request)) == "hi"
    assert server.connections == 1
