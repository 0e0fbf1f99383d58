"""Setup shared by the benchmarks: a migrated throwaway database and deployed clients.

Kept apart so the scripts build their data the same way the app does (services for a
few clients, one Core insert for many, plus the routing version bump either way). The
infrastructure benchmarks also share a stack of throwaway servers (PostgreSQL, Redis,
moto with the hosted zone) and real ``flask worker`` processes started and stopped here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import create_app
from app.config import Settings
from app.extensions import db
from app.hosts import bump_version, default_host
from app.models import (
    Account,
    DeploymentStatus,
    InfraRun,
    LlmClient,
    ResourceStatus,
    RunStatus,
    generate_account_number,
)
from app.models.common import utcnow
from app.services import accounts as account_service
from app.services import clients as client_service
from app.services.llm_models import choose_model
from devtools.services import AWS_TEST_ENV, postgres

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO_ROOT / "migrations"
CUSTOMER_DOMAIN = "api.bench.test"
INSERT_CHUNK = 5_000


def bench_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings from arguments only (no ``.env``), so a developer's file cannot skew runs."""
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-secret-key",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextlib.contextmanager
def throwaway_database(kind: str) -> Iterator[str]:
    """A fresh empty database URL: a temporary SQLite file, or a throwaway PostgreSQL."""
    if kind == "postgresql":
        with postgres(database="chatdock_bench") as pg:
            yield pg.url
        return
    with tempfile.TemporaryDirectory(prefix="chatdock-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def migrated_app(database_url: str, **overrides: Any) -> Flask:
    """An app on ``database_url`` after running the real Alembic migrations."""
    app = create_app(bench_settings(database_url, **overrides))
    logging.disable(logging.INFO)  # Alembic's per-migration INFO lines would bury the table
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
    finally:
        logging.disable(logging.NOTSET)
    return app


def create_clients_via_services(count: int, account_name: str = "Bench Corp") -> list[str]:
    """``count`` deployed echo clients in one account, the way the CLI creates them.

    Needs an app context; returns the clients' default hosts.
    """
    account = account_service.create_account(account_name)
    hosts = []
    for i in range(count):
        spec = client_service.parse_spec(name=f"bot-{i}", provider="echo")
        client = client_service.create_client(account, spec, deployed=True)
        hosts.append(default_host(client.name, account.account_number, CUSTOMER_DOMAIN))
    return hosts


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def bulk_create_clients(count: int, per_account: int) -> list[str]:
    """Insert ``count`` deployed echo clients (``per_account`` per new account) with Core
    multi-row inserts in one transaction, bumping the routing version stamp so every
    host index rebuilds. Needs an app context; returns the new clients' default hosts."""
    n_accounts = -(-count // per_account)
    numbers: set[str] = set(db.session.execute(select(Account.account_number)).scalars())
    new_numbers: list[str] = []
    while len(new_numbers) < n_accounts:
        number = generate_account_number()
        if number not in numbers:
            numbers.add(number)
            new_numbers.append(number)
    now = utcnow()
    accounts = [
        {"account_number": n, "name": f"Bench account {i}", "created_at": now}
        for i, n in enumerate(new_numbers)
    ]
    for chunk in _chunks(accounts, INSERT_CHUNK):
        db.session.execute(insert(Account.__table__), chunk)
    ids = dict(
        db.session.execute(
            select(Account.account_number, Account.id).where(
                Account.account_number.in_(new_numbers)
            )
        ).all()
    )
    echo_model_id = choose_model("echo", "echo-1").id
    clients: list[dict[str, Any]] = []
    hosts: list[str] = []
    for i in range(count):
        number = new_numbers[i // per_account]
        name = f"bot-{i % per_account}"
        clients.append(
            {
                "account_id": ids[number],
                "name": name,
                "llm_model_id": echo_model_id,
                "system_prompt": "",
                "temperature": 0.7,
                "max_tokens": 1024,
                "require_api_key": False,
                "allowed_origins": [],
                "deployment_status": DeploymentStatus.DEPLOYED,
                "dns_status": ResourceStatus.UNMANAGED,
                "tls_status": ResourceStatus.UNMANAGED,
                "deployed_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
        hosts.append(default_host(name, number, CUSTOMER_DOMAIN))
    for chunk in _chunks(clients, INSERT_CHUNK):
        db.session.execute(insert(LlmClient.__table__), chunk)
    bump_version(db.session)
    db.session.commit()
    return hosts


def run(main: Callable[[], int]) -> NoReturn:
    """Run a benchmark's ``main`` so that SIGTERM and Ctrl-C unwind its ``with`` blocks
    (stopping servers, removing temporary folders) and exit without a traceback."""

    def _raise(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and temporary files removed", file=sys.stderr)
        sys.exit(130)


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned table: first column left-aligned, the figures right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


# --- infrastructure jobs: Redis, moto, real `flask worker` processes ------------------
# Imports of boto3, redis and rq stay inside these functions so the other benchmarks do
# not pay for them.

TF_PLUGIN_DIR = Path("/opt/tf-plugins")
STATE_BUCKET = "chatdock-bench-state"


@dataclass(frozen=True)
class InfraStack:
    """Throwaway PostgreSQL, Redis and moto, with the hosted zone of ``CUSTOMER_DOMAIN``
    and the S3 bucket of Terraform's state (shared by all workers, as in production),
    plus a scratch folder (workspaces, worker logs, the workers' working directories)."""

    database_url: str
    redis_url: str
    aws_endpoint: str
    zone_id: str
    folder: Path

    @property
    def workspaces_dir(self) -> Path:
        return self.folder / "workspaces"

    def overrides(self) -> dict[str, Any]:
        """Settings (beyond :func:`bench_settings`) pointing an app at these servers."""
        return {
            "REDIS_URL": self.redis_url,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "ROUTE53_ZONE_ID": self.zone_id,
            "WORKSPACES_DIR": str(self.workspaces_dir),
            "TF_STATE_BACKEND": "s3",
            "TF_STATE_BUCKET": STATE_BUCKET,
        }

    def worker_env(self) -> dict[str, str]:
        """Environment of a worker process: the bench process's, minus every chatdock
        setting and ``FLASK_*`` variable it may carry, plus the same settings as the
        in-process app and moto's test credentials. The worker runs in ``folder`` with
        ``FLASK_SKIP_DOTENV``, so no ``.env``/``.flaskenv`` of a developer is read."""
        settings = bench_settings(self.database_url, **self.overrides())
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in Settings.model_fields and not k.startswith(("FLASK_", "TF_"))
        }
        env.update(AWS_TEST_ENV)
        env.update(
            {
                "DATABASE_URL": settings.DATABASE_URL,
                "CUSTOMER_API_DOMAIN": settings.CUSTOMER_API_DOMAIN,
                "LOG_LEVEL": settings.LOG_LEVEL,
                "SECRET_KEY": settings.SECRET_KEY.get_secret_value(),
                **{k: str(v) for k, v in self.overrides().items()},
                "FLASK_APP": str(REPO_ROOT / "wsgi.py"),
                "FLASK_SKIP_DOTENV": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env


@contextlib.contextmanager
def infra_stack() -> Iterator[InfraStack]:
    """Start PostgreSQL, redis-server and moto's server (with the hosted zone), all fresh;
    stop them and remove every temporary file afterwards."""
    from devtools.services import moto_server, redis_server
    from devtools.stack import ensure_hosted_zone, ensure_state_bucket

    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatdock-bench-")))
        pg = stack.enter_context(postgres(database="chatdock_bench"))
        redis_url = stack.enter_context(redis_server())
        endpoint = stack.enter_context(moto_server())
        zone_id = ensure_hosted_zone(endpoint, CUSTOMER_DOMAIN).rsplit("/", 1)[-1]
        ensure_state_bucket(endpoint, STATE_BUCKET)
        yield InfraStack(pg.url, redis_url, endpoint, zone_id, folder)


def warm_terraform_provider(plugin_dir: Path = TF_PLUGIN_DIR) -> int:
    """Read the provider binaries once so the page cache holds them: otherwise the first
    terraform run of a benchmark pays for reading ~700 MB from disk. Returns bytes read."""
    total = 0
    for path in sorted(plugin_dir.rglob("terraform-provider-*")):
        with path.open("rb") as binary:
            while chunk := binary.read(1 << 22):
                total += len(chunk)
    return total


def create_draft_clients(count: int, account_name: str = "Bench Corp") -> list[int]:
    """``count`` echo clients (``bot-0`` ...) in one new account, not deployed (no
    infrastructure yet), created through the services. Needs an app context; returns ids."""
    account = account_service.create_account(account_name)
    ids = []
    for i in range(count):
        spec = client_service.parse_spec(name=f"bot-{i}", provider="echo")
        ids.append(client_service.create_client(account, spec, deployed=False).id)
    return ids


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _wait_all(processes: Sequence[subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_workers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop worker process groups: SIGTERM (RQ's warm shutdown: an idle worker exits at
    once, a busy one would finish its job), then after 1.5 s a second SIGTERM (cold
    shutdown: the job is interrupted and its terraform stopped with SIGINT, 10 s grace),
    then SIGKILL for whatever is left of each group (e.g. RQ's scheduler process).
    Terraform runs in its own session but under ``setpriv --pdeathsig INT``, so it stops
    even when its worker is killed."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        _signal_group(process, signal.SIGTERM)
    if not _wait_all(alive, 1.5):
        for process in alive:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        _wait_all(alive, 20.0)
    for process in processes:
        _signal_group(process, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def worker_processes(
    stack: InfraStack, count: int, startup_timeout: float = 60.0
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` real ``python -m flask worker`` processes (each in its own process
    group, its own working directory and ``WORKSPACES_DIR`` as if on its own machine,
    output in ``folder/worker-N.log``), yielded once all are registered in Redis (so
    start-up is not timed); stopped with :func:`stop_workers` afterwards."""
    from redis import Redis
    from rq import Worker

    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number in range(count):
            machine = stack.folder / f"machine-{number}"
            machine.mkdir(exist_ok=True)
            env = {**stack.worker_env(), "WORKSPACES_DIR": str(machine / "workspaces")}
            with (stack.folder / f"worker-{number}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "worker"],
                        cwd=machine,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + startup_timeout
        with Redis.from_url(stack.redis_url) as redis:
            while Worker.count(connection=redis) < count:
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"a worker exited at start:\n{worker_logs(stack)}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"workers not registered after {startup_timeout}s")
                time.sleep(0.05)
        yield processes
    finally:
        stop_workers(processes)


def worker_logs(stack: InfraStack, tail: int = 20) -> str:
    """The last lines of every worker's output, for error messages."""
    parts = []
    for path in sorted(stack.folder.glob("worker-*.log")):
        lines = path.read_text(errors="replace").splitlines()[-tail:]
        parts.append(f"--- {path.name}\n" + "\n".join(lines))
    return "\n".join(parts)


@dataclass(frozen=True)
class RunRecord:
    """A finished run's columns, copied out of the session (which later polls expire)."""

    id: int
    target_name: str
    status: RunStatus
    attempts: int
    created_at: datetime
    started_at: datetime | None
    planned_at: datetime | None
    finished_at: datetime | None
    note: str
    error: str
    log: str

    @classmethod
    def of(cls, run: InfraRun) -> RunRecord:
        return cls(
            id=run.id,
            target_name=run.target_name,
            status=run.status,
            attempts=run.attempts,
            created_at=run.created_at,
            started_at=run.started_at,
            planned_at=run.planned_at,
            finished_at=run.finished_at,
            note=run.note,
            error=run.error,
            log=run.log,
        )


def wait_for_runs(
    run_ids: Sequence[int],
    timeout: float,
    workers: Sequence[subprocess.Popen[bytes]] = (),
    poll: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunRecord]:
    """Poll the database until every run is final (applied, destroyed, discarded or
    errored); returns them in the order of ``run_ids``. Needs an app context. Raises
    TimeoutError after ``timeout`` s, RuntimeError when every worker has exited.
    ``progress(done, total)`` is called whenever more runs are final."""
    deadline = time.monotonic() + timeout
    reported = -1
    while True:
        db.session.rollback()  # a new transaction, and no stale ORM state
        runs = {
            run.id: run
            for run in db.session.execute(
                select(InfraRun).where(InfraRun.id.in_(run_ids))
            ).scalars()
        }
        done = sum(run.is_final for run in runs.values())
        if progress is not None and done != reported:
            progress(done, len(run_ids))
            reported = done
        if len(runs) == len(run_ids) and all(run.is_final for run in runs.values()):
            return [RunRecord.of(runs[run_id]) for run_id in run_ids]
        if workers and all(p.poll() is not None for p in workers):
            raise RuntimeError("every worker exited while runs were pending")
        if time.monotonic() > deadline:
            pending = sorted(f"{r.id}:{r.status.value}" for r in runs.values() if not r.is_final)
            raise TimeoutError(f"runs not finished after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(poll)


def route53_a_records(stack: InfraStack) -> list[str]:
    """Names of the A records in the stack's hosted zone (moto), sorted."""
    import boto3

    route53 = boto3.client(
        "route53",
        endpoint_url=stack.aws_endpoint,
        region_name=AWS_TEST_ENV["AWS_REGION"],
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    names = []
    for page in route53.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=stack.zone_id
    ):
        names += [r["Name"].rstrip(".") for r in page["ResourceRecordSets"] if r["Type"] == "A"]
    return sorted(names)


def cpu_seconds_with_children(pid: int) -> float:
    """User + system CPU of a process and of its children it has waited for (a worker's
    terraform commands and their provider plugins), from ``/proc``; 0.0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14 to 17
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds, or None when either is missing."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def run_failure_text(run: RunRecord, tail: int = 15) -> str:
    """A failed run's status, error and the end of its log, for the report."""
    lines = run.log.splitlines()[-tail:]
    return f"run {run.id} ({run.target_name}): {run.status.value}: {run.error}\n" + "\n".join(
        f"    {line}" for line in lines
    )


# --- CPU accounting from /proc ----------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, plus its reaped children."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            parents[int(entry)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    ticks = 0
    for pid in tree:
        fields = _stat(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
            if pid == root:
                ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")
