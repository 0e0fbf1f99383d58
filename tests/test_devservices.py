"""The throwaway servers must be ours: a free port picked for one may be taken by another
process (another test run, another worker) before the server binds it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import boto3
import pytest
import redis

from devtools import services as devservices
from tests.conftest import on_own_connection


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on (a plain socket here)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def pick_first(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """Make the next free-port pick return ``port``, as if it were taken just after."""
    ports = iter([port])
    real = devservices.free_port
    monkeypatch.setattr(devservices, "free_port", lambda: next(ports, None) or real())


def test_redis_server_does_not_accept_another_redis_on_its_port(monkeypatch, tmp_path):
    impostor_port = devservices.free_port()
    impostor = subprocess.Popen(
        [
            *(devservices.redis_binary(), "--port", str(impostor_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        theirs = redis.Redis(port=impostor_port)
        deadline = time.monotonic() + 30
        while not _answers(theirs) and time.monotonic() < deadline:
            time.sleep(0.05)
        theirs.set("owner", "someone else")
        pick_first(monkeypatch, impostor_port)
        with devservices.redis_server() as url:
            ours = redis.Redis.from_url(url)
            assert ours.connection_pool.connection_kwargs["port"] != impostor_port
            assert ours.get("owner") is None
            assert ours.info("server")["process_id"] != impostor.pid
        assert theirs.get("owner") == b"someone else"  # and the other server is left alone
    finally:
        impostor.terminate()
        impostor.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_redis_server_retries_when_its_port_is_taken(monkeypatch, taken_port):
    pick_first(monkeypatch, taken_port)
    with devservices.redis_server() as url:
        client = redis.Redis.from_url(url)
        assert client.connection_pool.connection_kwargs["port"] != taken_port
        assert client.ping()


def test_postgres_retries_when_its_port_is_taken(monkeypatch, taken_port):
    pick_first(monkeypatch, taken_port)
    with devservices.postgres() as pg:
        assert pg.port != taken_port
        [(database,)] = on_own_connection(pg.url, "SELECT current_database()")
        assert database == "chatdock"


def test_moto_comes_back_on_the_same_port_after_a_restart():
    """The run command's MOTO_PORT: workspaces and plans keep pointing at moto."""
    port = devservices.free_port()
    for _ in range(2):
        with devservices.moto_server(port=port) as url:
            assert url == f"http://127.0.0.1:{port}"
            assert _moto_answers(url)


def test_a_port_whose_server_just_closed_its_connections_is_free():
    """TIME_WAIT on the port (the server closed first, as moto does when it stops) does
    not keep a restarted server off it; a listener does."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: its end waits in TIME_WAIT
        client.recv(1)
        client.close()
        assert not devservices.port_free(port)  # still listening
    assert devservices.port_free(port)


def test_moto_on_a_taken_port_says_so_and_serves_on_another(taken_port, capsys):
    with devservices.moto_server(port=taken_port) as url:
        assert url != f"http://127.0.0.1:{taken_port}"
        assert _moto_answers(url)
    err = capsys.readouterr().err
    assert f"moto: port {taken_port} (MOTO_PORT) is taken by another process" in err


def _moto_answers(url: str) -> bool:
    route53 = boto3.client(
        "route53",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return route53.list_hosted_zones()["HostedZones"] == []
