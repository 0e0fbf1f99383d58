"""One access line per request from the web process as shipped (``gunicorn.conf.py``):
chatdock's own JSON ``request`` event; gunicorn's plain-text line only when an operator
asks for it with ``GUNICORN_ACCESS_LOG``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.services import free_port

REPO = Path(__file__).resolve().parent.parent
GUNICORN_LINE = '"GET /healthz HTTP/1.1" 200'


def _serve_one_request(tmp_path: Path, extra_env: dict[str, str]) -> tuple[str, list[str]]:
    """Start the web process, GET /healthz once with a request id, stop it; the request
    id and every line the process wrote (stdout and stderr)."""
    port = free_port()
    output = tmp_path / "web.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chatdock.db'}",
        "SECRET_KEY": "test-secret-key",
        "LOG_LEVEL": "INFO",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
    }
    env.pop("GUNICORN_ACCESS_LOG", None)  # as shipped, unless the test sets it
    env.update(extra_env)
    request_id = "access-log-test-1"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None and time.monotonic() < deadline, output.read_text()
                try:
                    answer = httpx.get(
                        f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": request_id}
                    )
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert answer.status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return request_id, output.read_text().splitlines()


def _our_access_lines(lines: list[str], request_id: str) -> list[dict]:
    events = []
    for line in lines:
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "request" and event.get("request_id") == request_id:
                events.append(event)
    return events


def test_one_access_line_per_request_by_default(tmp_path: Path) -> None:
    request_id, lines = _serve_one_request(tmp_path, {})

    [ours] = _our_access_lines(lines, request_id)
    assert ours["path"] == "/healthz" and ours["status"] == 200 and ours["duration_ms"] >= 0
    assert not [line for line in lines if GUNICORN_LINE in line]


@pytest.mark.parametrize("target", ["-", "file"])
def test_gunicorns_access_log_when_asked_for(tmp_path: Path, target: str) -> None:
    log_file = tmp_path / "gunicorn-access.log"
    setting = "-" if target == "-" else str(log_file)
    request_id, lines = _serve_one_request(tmp_path, {"GUNICORN_ACCESS_LOG": setting})

    assert len(_our_access_lines(lines, request_id)) == 1
    written = lines if target == "-" else log_file.read_text().splitlines()
    assert len([line for line in written if GUNICORN_LINE in line]) == 1
