"""What the chat endpoint costs on top of Flask itself, under a real WSGI server.

Serves ``POST /llm-client/`` of the real app (offline ``echo`` provider, PostgreSQL,
sessions and messages persisted) and of ``bare_app.py`` (parse JSON, answer JSON) with
the same gunicorn settings, and the real app again with the limits on (the client has a
monthly token budget and requests/tokens per minute, checked in a real Redis: one Lua
round trip before the provider call, one after; none of them is reached), drives them
with the same keep-alive load from this process and compares throughput, latency and
CPU per request; then, on one connection, how much latency chat adds over bare Flask.
Both as shipped: gevent workers. Aim: chat keeps at least a quarter of the bare
endpoint's throughput and adds at most 3 ms at one connection.

Run: ``.venv/bin/python bench/chat_overhead.py [--requests 3000 --connections 8]``

Exit status 0 when every response was a 200 with the expected body (whether or not the
aim was met: this is a measurement), 1 when some failed, as the figures are then wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    REPO_ROOT,
    create_clients_via_services,
    migrated_app,
    percentile,
    print_table,
    run,
    tree_cpu_seconds,
)
from sqlalchemy import create_engine, func, select

from app.extensions import db
from app.models import Account, ChatMessage, ChatSession, LlmClient
from app.services import limit_settings
from devtools.services import free_port, postgres, redis_server

AIM_RATIO = 0.25
AIM_ADDED_MS = 3.0
BENCH_DIR = Path(__file__).resolve().parent
BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
EXPECTED = b'"reply":"echo: hi"'


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput and latency of POST /llm-client/ (real app, echo provider, "
        "PostgreSQL) against a bare Flask endpoint, both under gunicorn on 127.0.0.1. "
        f"Aim: chat keeps >= {AIM_RATIO:.0%} of the bare throughput.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class",
        choices=("gevent", "gthread", "sync"),
        default="gevent",
        help="gevent is how chatdock ships (gunicorn.conf.py); gthread keeps connections "
        "alive with threads; sync closes each one after a request",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per run")
    parser.add_argument("--warmup", type=int, default=400, help="untimed requests first")
    parser.add_argument("--rounds", type=int, default=3, help="runs per target, alternated")
    parser.add_argument(
        "--single", type=int, default=600, help="requests on one connection (added latency)"
    )
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time cap of one run")
    parser.add_argument(
        "--check-seconds",
        type=float,
        default=None,
        help="HOST_INDEX_CHECK_SECONDS for the real app (None: the app's own default)",
    )
    args = parser.parse_args(argv)
    if min(args.workers, args.threads, args.connections, args.requests, args.rounds) < 1:
        parser.error("counts must be positive")
    return args


# --- a minimal keep-alive HTTP/1.1 client --------------------------------------------


class RawConnection:
    """One keep-alive connection sending prepared request bytes.

    Much cheaper per request than http.client or requests, so the load generator, which
    shares the 2 cores with the servers, takes as little CPU from them as possible.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buffer += chunk

    def request(self, payload: bytes) -> tuple[int, bytes]:
        """Send one request and read its response: (status, body)."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(payload)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = self.buffer[: end + 2].lower()  # every header line ends with CRLF
        status = int(head[9:12])
        marker = head.find(b"\r\ncontent-length:")
        if marker < 0:
            raise ConnectionError("response without Content-Length")
        length = int(head[marker + 17 : head.find(b"\r\n", marker + 2)])
        while len(self.buffer) < end + 4 + length:
            self._fill()
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        if b"\r\nconnection: close" in head:
            self.close()
        return status, body


def http_request(host: str, body: bytes) -> bytes:
    return (
        f"POST /llm-client/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


# --- gunicorn ---------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]


def gunicorn_command(args: argparse.Namespace, port: int, folder: Path, target: str) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(args.workers), "--worker-class", args.worker_class]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    if args.worker_class == "gevent":
        command += ["--worker-connections", "1000"]
    # No gunicorn access log for either, as shipped (gunicorn.conf.py: only when
    # GUNICORN_ACCESS_LOG names one; even into /dev/null each line is formatted); the real
    # app's own log is at WARNING: the same work for both, and not 20,000 lines of output.
    command += ["--keep-alive", "10", "--log-level", "warning"]
    command += ["--chdir", str(folder), target]
    return command


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def gunicorn(
    name: str, args: argparse.Namespace, folder: Path, target: str, env: dict[str, str]
) -> Iterator[Server]:
    """A gunicorn master in its own process group, stopped (and killed if need be) after."""
    port = free_port()
    process = subprocess.Popen(
        gunicorn_command(args, port, folder, target),
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn for {name} did not start (see its output above)")
            time.sleep(0.05)
        yield Server(name, port, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- load -------------------------------------------------------------------------------


@dataclass
class RunResult:
    target: str
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def total(self) -> int:
        return self.ok + sum(self.failures.values())

    @property
    def rate(self) -> float:
        return self.total / self.elapsed if self.elapsed else 0.0

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.total if self.total else 0.0


def drive(
    server: Server, payload: bytes, count: int, connections: int, max_seconds: float
) -> RunResult:
    """``count`` requests over ``connections`` keep-alive connections, one thread each."""
    result = RunResult(server.name)
    tickets = itertools.count()
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    stop = threading.Event()
    deadline = [float("inf")]

    def worker() -> None:
        conn = RawConnection(server.port)
        latencies: list[float] = []
        failures: Counter[str] = Counter()
        ok = 0
        try:
            try:
                conn.connect()
            except OSError:
                start.abort()  # release the others instead of waiting for the timeout
                raise
            start.wait()
            while not stop.is_set() and next(tickets) < count:
                if time.perf_counter() > deadline[0]:
                    break
                began = time.perf_counter()
                try:
                    status, body = conn.request(payload)
                except (OSError, ValueError) as error:  # ValueError: malformed response
                    failures[type(error).__name__] += 1
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - began)
                if status == 200 and EXPECTED in body:
                    ok += 1
                else:
                    failures[f"HTTP {status}"] += 1
        finally:
            conn.close()
            with lock:
                result.ok += ok
                result.failures.update(failures)
                result.latencies.extend(latencies)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    try:
        start.wait(timeout=30)
        began = time.perf_counter()
        deadline[0] = began + max_seconds
        for thread in threads:
            thread.join()
        result.elapsed = time.perf_counter() - began
    finally:
        stop.set()
    result.latencies.sort()
    return result


def measured(
    server: Server, payload: bytes, args: argparse.Namespace, pg_pid: int | None
) -> RunResult:
    """One timed run with the CPU used by the server, PostgreSQL and this process."""
    server_before = tree_cpu_seconds(server.process.pid)
    db_before = tree_cpu_seconds(pg_pid) if pg_pid else 0.0
    client_before = time.process_time()
    result = drive(server, payload, args.requests, args.connections, args.max_seconds)
    result.client_cpu = time.process_time() - client_before
    result.server_cpu = tree_cpu_seconds(server.process.pid) - server_before
    result.db_cpu = (tree_cpu_seconds(pg_pid) - db_before) if pg_pid else 0.0
    return result


def count_rows(url: str) -> tuple[int, int]:
    """Chat sessions and messages stored so far."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sessions = conn.execute(select(func.count()).select_from(ChatSession)).scalar_one()
            messages = conn.execute(select(func.count()).select_from(ChatMessage)).scalar_one()
    finally:
        engine.dispose()
    return sessions, messages


# --- main -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("Starting PostgreSQL, migrating, creating a deployed echo client...", flush=True)
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres(database="chatdock_bench"))
        app = migrated_app(pg.url)
        redis_url = stack.enter_context(redis_server())
        with app.app_context():
            host = create_clients_via_services(1)[0]
            set_unreachable_limits()
            customer_domain = app.extensions["chatdock.settings"].CUSTOMER_API_DOMAIN
            db.engine.dispose()
        env = {
            "DATABASE_URL": pg.url,
            "CUSTOMER_API_DOMAIN": customer_domain,
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "bench-secret-key",
        }
        if args.check_seconds is not None:
            env["HOST_INDEX_CHECK_SECONDS"] = str(args.check_seconds)
        print("Starting gunicorn for the bare and the real app...", flush=True)
        bare = stack.enter_context(gunicorn("bare", args, BENCH_DIR, "bare_app:app", {}))
        off = env | {"CHAT_LIMITS_ENABLED": "false"}
        on = env | {"CHAT_LIMITS_ENABLED": "true", "REDIS_URL": redis_url}
        chat = stack.enter_context(gunicorn("chat", args, REPO_ROOT, "wsgi:app", off))
        limited = stack.enter_context(gunicorn(LIMITED, args, REPO_ROOT, "wsgi:app", on))
        payload = http_request(host, BODY)
        pg_pid = postmaster_pid(pg.data_dir)

        targets = (bare, chat, limited)
        warm: dict[str, RunResult] = {}
        for server in targets:
            warm[server.name] = drive(server, payload, args.warmup, args.connections, 60.0)
        runs: dict[str, list[RunResult]] = {server.name: [] for server in targets}
        for round_number in range(1, args.rounds + 1):
            print(f"Round {round_number}/{args.rounds}...", flush=True)
            for server in targets:
                runs[server.name].append(
                    measured(server, payload, args, pg_pid if server is not bare else None)
                )
        print("One connection, one request at a time...", flush=True)
        singles = {
            server.name: [drive(server, payload, args.single, 1, args.max_seconds) for _ in "123"]
            for server in (bare, chat)
        }
        single = {
            name: min(results, key=lambda r: percentile(r.latencies, 0.5))
            for name, results in singles.items()
        }
        sessions, messages = count_rows(pg.url)
    chat_ok = sum(
        warm[name].ok + sum(r.ok for r in runs[name]) for name in ("chat", LIMITED)
    ) + sum(r.ok for r in singles["chat"])
    report(args, runs, warm, (sessions, messages), chat_ok)
    report_single(single)
    failed = any(r.failures for r in [*warm.values(), *(x for v in runs.values() for x in v)])
    return 1 if failed else 0


LIMITED = "chat+limits"


def set_unreachable_limits() -> None:
    """Every limit set on the bench client, far above what the bench can reach: the
    checks run in full on every request and never refuse."""
    account = db.session.execute(db.select(Account)).scalar_one()
    client = db.session.execute(db.select(LlmClient)).scalar_one()
    limit_settings.set_budget(account, 10**15, by=None)
    limit_settings.set_rate_limits(
        client, requests_per_minute=10**9, tokens_per_minute=2**31 - 1, by=None
    )


def best(runs: list[RunResult]) -> RunResult:
    """The fastest run: load from other processes on the machine only ever slows one."""
    return max(runs, key=lambda r: r.rate)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[RunResult]],
    warm: dict[str, RunResult],
    stored: tuple[int, int],
    chat_ok: int,
) -> None:
    threads = f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    threads += " x 1000 connections" if args.worker_class == "gevent" else ""
    print()
    print(
        f"gunicorn {args.worker_class}, {args.workers} workers{threads}, keep-alive, "
        "no access log; "
        f"{args.connections} keep-alive connections from one client process (127.0.0.1); "
        f"{args.requests:,} timed requests per run after {args.warmup} warm-up; "
        f"best of {args.rounds} alternated runs; {os.cpu_count()} CPUs shared by client, "
        "servers and PostgreSQL"
    )
    print(
        "chat = real app (wsgi:app), echo provider, PostgreSQL, LOG_LEVEL=WARNING so logging "
        "does not dominate; HOST_INDEX_CHECK_SECONDS="
        + ("app default" if args.check_seconds is None else f"{args.check_seconds:g}")
    )
    print("bare = bench/bare_app.py: Flask, parse JSON body, similar-size JSON answer")
    print(
        f"{LIMITED} = chat with CHAT_LIMITS_ENABLED and Redis: budget, rpm and tpm of the "
        "client checked (one Lua call) and counted (one Lua call) per request; chat has "
        "CHAT_LIMITS_ENABLED=false"
    )
    print()
    rows = []
    for name in ("bare", "chat", LIMITED):
        r = best(runs[name])
        failures = sum(x.failures.total() for x in runs[name])
        rows.append(
            [
                name,
                f"{r.rate:,.0f}",
                f"{percentile(r.latencies, 0.50) * 1000:.2f}",
                f"{percentile(r.latencies, 0.99) * 1000:.2f}",
                f"{r.per_request_ms(r.server_cpu):.3f}",
                f"{r.per_request_ms(r.db_cpu):.3f}" if name != "bare" else "-",
                f"{r.per_request_ms(r.client_cpu):.3f}",
                f"{sum(x.total for x in runs[name]):,}",
                str(failures),
                " ".join(f"{x.rate:,.0f}" for x in runs[name]),
            ]
        )
    print_table(
        [
            "target",
            "req/s",
            "p50 ms",
            "p99 ms",
            "app CPU ms/req",
            "PG CPU ms/req",
            "client CPU ms/req",
            "requests",
            "non-200",
            "all runs (req/s)",
        ],
        rows,
    )
    bare_best, chat_best = best(runs["bare"]), best(runs["chat"])
    ratio = chat_best.rate / bare_best.rate
    cpu_bare = bare_best.per_request_ms(bare_best.server_cpu)
    cpu_chat = chat_best.per_request_ms(chat_best.server_cpu + chat_best.db_cpu)
    print()
    print(f"Throughput chat/bare: {ratio:.2f} (median of runs {median_ratio(runs):.2f})")
    limited_best = best(runs[LIMITED])
    print(
        f"Throughput with limits on / off: {limited_best.rate / chat_best.rate:.2f} "
        f"({limited_best.rate:,.0f} vs {chat_best.rate:,.0f} req/s; median of runs "
        f"{median_ratio(runs, LIMITED, 'chat'):.2f})"
    )
    print(
        f"Server CPU per request chat (app + PostgreSQL) / bare: {cpu_chat / cpu_bare:.1f}x "
        f"({cpu_chat:.2f} ms vs {cpu_bare:.2f} ms)"
    )
    for name in ("bare", "chat", LIMITED):
        problems = sum((x.failures for x in [warm[name], *runs[name]]), Counter())
        if problems:
            print(f"{name}: failed responses (incl. warm-up): {dict(problems)}")
    sessions, messages = stored
    persisted = "ok" if sessions == chat_ok and messages == 2 * chat_ok else "MISMATCH"
    print(
        f"Persisted by chat: {sessions:,} sessions, {messages:,} messages for {chat_ok:,} "
        f"successful chat requests ({persisted})"
    )
    all_ok = all(not x.failures for name in ("chat", LIMITED) for x in [warm[name], *runs[name]])
    verdict = "met" if ratio >= AIM_RATIO else "NOT met"
    print(
        f"Aim: chat keeps >= {AIM_RATIO:.0%} of bare throughput -> {verdict} ({ratio:.0%}); "
        f"all chat responses 200: {'yes' if all_ok else 'NO'}"
    )


def report_single(single: dict[str, RunResult]) -> None:
    """What chatdock adds to one request when nothing else is running: p50 over bare."""
    bare_p50 = percentile(single["bare"].latencies, 0.5) * 1000
    chat_p50 = percentile(single["chat"].latencies, 0.5) * 1000
    added = chat_p50 - bare_p50
    print(
        f"One connection: bare p50 {bare_p50:.2f} ms, chat p50 {chat_p50:.2f} ms: chatdock "
        f"adds {added:.2f} ms (aim <= {AIM_ADDED_MS:g} ms: "
        f"{'met' if added <= AIM_ADDED_MS else 'NOT met'})"
    )


def median_ratio(
    runs: dict[str, list[RunResult]], top: str = "chat", bottom: str = "bare"
) -> float:
    return statistics.median(r.rate for r in runs[top]) / statistics.median(
        r.rate for r in runs[bottom]
    )


if __name__ == "__main__":
    run(main)
