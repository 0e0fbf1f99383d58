"""A customer's HTTP API for the tools tests: records every request and answers by path
(``/together`` only while two requests are in at once, ``/away`` and ``/redirect``
redirect, ``/big`` is 10 MB, ``/slow`` takes 3 s, anything else echoes path and body)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = 10 * 1024 * 1024


class Shop(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict]
    away: str = ""  # where /away redirects
    together: threading.Barrier  # /together answers once two requests are in at once
    on_together: Callable[[], None] | None = None  # runs once they are


class Handler(BaseHTTPRequestHandler):
    server: Shop

    def log_message(self, format, *args):
        """Quiet."""

    def _answer(self, status: int, body: bytes, kind: str = "application/json", **headers):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "key": self.headers.get("X-Api-Key"),
                "body": body,
            }
        )
        if self.path.startswith("/together"):
            try:
                self.server.together.wait()
            except threading.BrokenBarrierError:
                self._answer(503, b'{"alone": true}')
            else:
                self._answer(200, b'{"together": true}')
        elif self.path.startswith("/away"):
            self._answer(302, b"", Location=self.server.away)
        elif self.path.startswith("/redirect"):
            self._answer(302, b"", Location="http://10.1.2.3/latest/meta-data/")
        elif self.path.startswith("/big"):
            self._answer(200, b"x" * BIG, "text/plain")
        elif self.path.startswith("/slow"):
            time.sleep(3)
            self._answer(200, b"{}")
        else:
            self._answer(200, json.dumps({"path": self.path, "body": body}).encode())

    do_GET = do_POST = _handle


@contextlib.contextmanager
def running_shop(address: str) -> Iterator[Shop]:
    server = Shop((address, 0), Handler)
    server.seen = []
    server.together = threading.Barrier(
        2, action=lambda: server.on_together() if server.on_together else None, timeout=5
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def base_url(server: Shop) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
