"""Chat at real model latency: how many conversations one deployment of chatdock holds
while the model takes seconds to answer.

chatdock runs as shipped (``gunicorn.conf.py``: 2 gevent workers) on PostgreSQL, with one
deployed client on the ``openai`` provider pointed at ``bench/mock_model.py``, a mock
model that answers every request after ``--delays`` seconds. ``wrk`` (Debian's package)
keeps 64 / 256 / 1,024 connections busy, plain and streamed. The ceiling of a run is
connections / delay requests per second (every connection always waiting on the model);
each row prints achieved / ceiling, p50/p99 latency, the peak number of chatdock's
PostgreSQL sessions and of those ``idle in transaction`` (sampled every 0.2 s), the
memory of each gunicorn worker, and the CPU time of chatdock's processes (master and
workers, from ``/proc``) per completed chat. At 256 connections ``bench/bare_proxy.py``
(the least a Python proxy does: forward, relay) runs under the same gunicorn settings
first, and chatdock's rows print their req/s against it: the machine's speed, which
drifts from hour to hour here, divides out. ``--baseline`` adds the previous shape
(gthread, 2 workers x 8 threads) at 256 connections. Aim: >= 0.8 of the ceiling at 256
connections with a 1 s delay.

Run: ``.venv/bin/python bench/upstream_concurrency.py [--delays 1,5 --connections 64,256,1024]``
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import REPO_ROOT, migrated_app, print_table, run, tree_cpu_seconds
from sqlalchemy import create_engine, text

from app.services import accounts as account_service
from app.services import clients as client_service
from devtools.services import free_port, postgres

AIM = 0.8
BENCH_DIR = Path(__file__).resolve().parent
SHIPPED = "gevent (as shipped)"
BARE = "bare proxy (baseline)"
GTHREAD = ["--workers", "2", "--worker-class", "gthread", "--threads", "8", "wsgi:app"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delays", default="1,5", help="model delays in seconds")
    parser.add_argument("--connections", default="64,256,1024", help="wrk connections")
    parser.add_argument("--modes", default="plain,stream", help="plain and/or stream")
    parser.add_argument("--seconds", type=float, default=15, help="at least this long a run")
    parser.add_argument("--baseline", action="store_true", help="also gthread 2x8 at 256")
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="the model's delay varies by this fraction each way (same mean); 0: every "
        "answer after exactly the delay, so wrk's connections are answered in waves",
    )
    args = parser.parse_args(argv)
    args.delays = [float(v) for v in args.delays.split(",")]
    args.connections = [int(v) for v in args.connections.split(",")]
    args.modes = args.modes.split(",")
    if not 0 <= args.jitter <= 1:
        parser.error("--jitter must be between 0 and 1")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    return args


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """A server process in its own group, until it listens on ``port``; stopped after."""
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=REPO_ROOT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not start")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def worker_rss_mb(master: int) -> list[float]:
    """Resident memory of each child (worker) of the gunicorn master, in MB."""
    sizes = []
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for pid in children:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


@dataclass
class Sample:
    peak_sessions: int = 0
    peak_idle_in_transaction: int = 0
    peak_rss_mb: float = 0.0


def sample(database_url: str, master: int, stop: threading.Event, into: Sample) -> None:
    engine = create_engine(database_url)
    query = text(
        "SELECT count(*), count(*) FILTER (WHERE state = 'idle in transaction') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        while not stop.wait(0.2):
            total, idle_tx = connection.execute(query).one()
            connection.rollback()
            into.peak_sessions = max(into.peak_sessions, total)
            into.peak_idle_in_transaction = max(into.peak_idle_in_transaction, idle_tx)
            with contextlib.suppress(OSError):
                into.peak_rss_mb = max([into.peak_rss_mb, *worker_rss_mb(master)])
    engine.dispose()


def wrk(port: int, path: str, stream: bool, connections: int, seconds: float) -> dict[str, float]:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": stream})
    script = f"""wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        output = subprocess.run(
            [
                *("wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s"),
                *("--timeout", "120s", "--latency", "-s", lua.name),
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def seconds_of(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match[1]), match[2]
        return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"timeout (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50": seconds_of("50%"),
        "p99": seconds_of("99%"),
        "errors": int(errors[1]) if errors else 0,
        "timeouts": int(timeouts[1]) if timeouts else 0,
    }


@dataclass
class Target:
    """A server under load: its name, gunicorn's arguments, the connection counts."""

    name: str
    args: list[str]
    connections: list[int]


def targets(args: argparse.Namespace, delay: float) -> list[Target]:
    """chatdock as shipped at every count; at 256 connections the bare proxy on the same
    gunicorn settings (the baseline that divides the machine's speed out), and with
    ``--baseline`` on the first delay, the previous gthread shape."""
    conf = str(REPO_ROOT / "gunicorn.conf.py")
    found = [Target(SHIPPED, ["--config", conf], args.connections)]
    found.append(
        Target(BARE, ["--config", conf, "--chdir", str(BENCH_DIR), "bare_proxy:app"], [256])
    )
    if args.baseline and delay == args.delays[0]:
        found.append(Target("gthread 2x8 (before)", GTHREAD, [256]))
    return found


def measure(
    target: Target,
    server: subprocess.Popen,
    port: int,
    database_url: str,
    path: str,
    delay: float,
    connections: int,
    mode: str,
    seconds: float,
) -> dict[str, object]:
    """One timed wrk run after an untimed one, with the database and memory sampled."""
    print(
        f"{target.name}: delay {delay:g}s, {connections} connections, {mode}, {seconds:g}s ...",
        flush=True,
    )
    wrk(port, path, mode == "stream", connections, 2 * delay + 3)  # warm-up: imports, pools
    stop, seen = threading.Event(), Sample()
    sampler = threading.Thread(target=sample, args=(database_url, server.pid, stop, seen))
    sampler.start()
    cpu_before = tree_cpu_seconds(server.pid)
    try:
        result = wrk(port, path, mode == "stream", connections, seconds)
    finally:
        stop.set()
        sampler.join()
    cpu = tree_cpu_seconds(server.pid) - cpu_before
    chats = max(1.0, result["rps"] * seconds)
    return {
        **result,
        "cpu_ms": cpu / chats * 1000,
        "sessions": seen.peak_sessions,
        "idle_tx": seen.peak_idle_in_transaction,
        "rss": seen.peak_rss_mb,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[list[object]] = []
    failed = False
    bare: dict[tuple[float, int, str], float] = {}  # the baseline's req/s by run
    with postgres(database="chatdock_bench") as pg:
        app = migrated_app(pg.url)
        with app.app_context():
            account = account_service.create_account("Latency Corp")
            spec = client_service.parse_spec(name="slow", provider="openai")
            client = client_service.create_client(account, spec, deployed=True)
            path = f"/api/v0/llm-clients/{client.id}/{client.name}/"
        for delay in args.delays:
            model_port = free_port()
            mock = [sys.executable, "bench/mock_model.py", "--port", str(model_port)]
            mock += ["--delay", str(delay), "--jitter", str(args.jitter)]
            with process(mock, {}, model_port):
                # The baseline first: chatdock's rows then print their ratio to it.
                for target in sorted(targets(args, delay), key=lambda t: t.name != BARE):
                    port = free_port()
                    env = {
                        "DATABASE_URL": pg.url,
                        "SECRET_KEY": "bench",
                        "LOG_LEVEL": "WARNING",
                        "OPENAI_API_KEY": "sk-bench",
                        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
                        "GUNICORN_BIND": f"127.0.0.1:{port}",
                        "GUNICORN_LOG_LEVEL": "warning",
                    }
                    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
                    with process([*command, *target.args], env, port) as server:
                        for connections, mode in itertools.product(target.connections, args.modes):
                            seconds = max(args.seconds, 4 * delay)
                            got = measure(
                                target,
                                server,
                                port,
                                pg.url,
                                path,
                                delay,
                                connections,
                                mode,
                                seconds,
                            )
                            rps = float(got["rps"])  # type: ignore[arg-type]
                            if target.name == BARE:
                                bare[delay, connections, mode] = rps
                            baseline = bare.get((delay, connections, mode))
                            ceiling = connections / delay
                            failed |= bool(got["errors"])
                            rows.append(
                                [
                                    target.name,
                                    mode,
                                    f"{delay:g}s"
                                    + (f" +-{args.jitter:.0%}" if args.jitter else ""),
                                    connections,
                                    f"{rps:.1f}",
                                    f"{ceiling:.0f}",
                                    f"{rps / ceiling:.2f}",
                                    f"{rps / baseline:.2f}" if baseline else "",
                                    f"{got['p50']:.2f}s",
                                    f"{got['p99']:.2f}s",
                                    int(got["errors"] + got["timeouts"]),  # type: ignore[operator]
                                    got["sessions"],
                                    got["idle_tx"],
                                    f"{got['rss']:.0f}",
                                    f"{got['cpu_ms']:.1f}",
                                ]
                            )
                            time.sleep(1)
    print()
    print_table(
        [
            "server",
            "mode",
            "delay",
            "conns",
            "req/s",
            "ceiling",
            "achieved/ceiling",
            "/bare proxy",
            "p50",
            "p99",
            "errors",
            "peak PG sessions",
            "peak idle in tx",
            "RSS/worker MB",
            "server CPU ms/chat",
        ],
        rows,
    )
    print(
        f"\naim: >= {AIM} of the ceiling at 256 connections with a 1 s delay; "
        "'/bare proxy': req/s against the bare proxy's in the same run (bench/bare_proxy.py)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
