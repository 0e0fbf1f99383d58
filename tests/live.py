"""A real HTTP server (werkzeug, threaded) around a test app, for SDK and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from flask import Flask
from werkzeug.serving import make_server

from devtools.services import free_port
from tests.conftest import CUSTOMER_DOMAIN


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


REPO = Path(__file__).resolve().parent.parent


def shipped_env(database_url: str, **settings: str) -> dict[str, str]:
    """The settings a test's :func:`gunicorn` serves chatdock with: the test database,
    the tests' customer domain and secret key, warnings only; ``settings`` on top."""
    return {
        "DATABASE_URL": database_url,
        "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
        "SECRET_KEY": "test-secret-key",
        "LOG_LEVEL": "WARNING",
        **settings,
    }


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int = 1) -> Iterator[int]:
    """chatdock as shipped (``gunicorn.conf.py``: gevent workers) on a free loopback port,
    with ``env`` on top of this process's environment; yields the port once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        cwd=REPO,
        env={
            **os.environ,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_WORKERS": str(workers),
            "GUNICORN_LOG_LEVEL": "warning",
            **env,
        },
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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


@dataclass
class SmtpServer:
    """What a test SMTP server saw: messages, and the logins with whether TLS was on."""

    host: str
    port: int
    ca_file: str
    messages: list = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


@contextlib.contextmanager
def tls_smtp_server(tmp_path, *, starttls: bool = True, implicit_tls: bool = False):
    """A real SMTP server (aiosmtpd) with a certificate of a throwaway CA (trustme) that
    accepts any login: with STARTTLS (and no login before it), without STARTTLS at all,
    or TLS from the first byte (``implicit_tls``, as ``smtps://``)."""
    from email import message_from_bytes

    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ca = trustme.CA()
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    with socket.socket() as probe:  # aiosmtpd's start-up check cannot follow port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen = SmtpServer("127.0.0.1", port, str(ca_file))

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by name
            seen.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        over_tls = session.ssl is not None or server.transport.get_extra_info("ssl_object")
        seen.logins.append((auth_data.login.decode(), bool(over_tls)))
        return AuthResult(success=True)

    options: dict = {"authenticator": authenticator, "auth_require_tls": True}
    if implicit_tls:  # aiosmtpd offers AUTH "after TLS" only after STARTTLS
        options.update(ssl_context=server_context, auth_require_tls=False)
    elif starttls:
        options["tls_context"] = server_context
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield seen
    finally:
        controller.stop()
