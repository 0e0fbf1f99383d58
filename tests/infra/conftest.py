"""Fixtures of the infrastructure tests: real throwaway servers on loopback.

``moto_server`` (session-wide) is moto's standalone server emulating Route53, ACM and S3;
point the AWS provider's ``endpoints {}`` (or ``AWS_ENDPOINT_URL``) and boto3 at the URL
it yields. ``redis_url`` is a real redis-server per test module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.devservices import free_port, redis_server, wait_for_port


def _moto_binary() -> str:
    beside_python = Path(sys.executable).parent / "moto_server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server not installed: pip install -e . (moto[server])")
    return found


def _start_moto(binary: str, attempts: int = 3) -> tuple[subprocess.Popen[bytes], int]:
    """Start moto on a free port; retried when another process took the port first."""
    for _ in range(attempts):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                wait_for_port(port, timeout=0.2)
                return proc, port
            except TimeoutError:
                continue
        _stop(proc)
    raise RuntimeError(f"moto_server did not start after {attempts} attempts")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port for the whole session; yields its URL."""
    proc, port = _start_moto(_moto_binary())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server (no persistence) for one test module; yields its URL."""
    with redis_server() as url:
        yield url
