"""A real HTTP server (werkzeug, threaded) around a test app, for SDK and browser tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from flask import Flask
from werkzeug.serving import make_server


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[int]:
    """Serve ``app`` on a free loopback port until the block ends; yields the port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextlib.contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP endpoint recording every JSON body POSTed to it; yields (url, bodies)."""
    from flask import request

    received: list[dict] = []
    receiver = Flask("webhook_receiver")

    @receiver.post("/hook")
    def hook():
        received.append(request.get_json())
        return "", status

    with serve(receiver) as port:
        yield f"http://127.0.0.1:{port}/hook", received


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[str, list]]:
    """A real SMTP server (aiosmtpd) on loopback; yields (smtp URL, received messages)."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by name
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's start-up check cannot follow port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", received
    finally:
        controller.stop()
