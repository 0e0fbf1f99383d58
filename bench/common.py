"""Setup shared by the benchmarks: a migrated throwaway database and deployed clients.

Kept apart so both scripts build their data the same way the app does (services for a
few clients, one Core insert for many, plus the routing version bump either way).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import create_app
from app.config import Settings
from app.devservices import postgres
from app.extensions import db
from app.hosts import bump_version, default_host
from app.models import Account, DeploymentStatus, LlmClient, ResourceStatus, generate_account_number
from app.models.common import utcnow
from app.services import accounts as account_service
from app.services import clients as client_service

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
    clients: list[dict[str, Any]] = []
    hosts: list[str] = []
    for i in range(count):
        number = new_numbers[i // per_account]
        name = f"bot-{i % per_account}"
        clients.append(
            {
                "account_id": ids[number],
                "name": name,
                "provider": "echo",
                "model": "echo-1",
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
