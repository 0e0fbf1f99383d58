"""Shared fixtures. The suite runs against SQLite (default) or a real PostgreSQL server
(``TEST_DATABASE=postgresql``: a throwaway cluster is started, or ``TEST_DATABASE_URL``
is used; under pytest-xdist each worker gets its own database on that server). The
schema is built once per worker by the real Alembic migrations; each test then starts
from empty tables (and the synced model catalog). Tests that use the database are marked
``database`` (by their fixtures), so a second database's pass can skip the others."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.config import Settings
from app.extensions import db
from app.models import Account, LlmClient
from app.services import accounts as account_service
from app.services import clients as client_service
from app.services.model_catalog_sync import llm_model_migration
from devtools.services import postgres, redis_server

CUSTOMER_DOMAIN = "api.chatdock.test"


def _settings(database_url: str, **overrides) -> Settings:
    base = {
        "DATABASE_URL": database_url,
        "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
        "HOST_INDEX_CHECK_SECONDS": 0.0,
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "test-secret-key",
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)


DATABASE_FIXTURE = "database_url"  # every fixture that touches the test database uses it


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that use the test database (the second database's pass: "
        "the tests that touch no database already ran in the first)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Start one throwaway PostgreSQL server for the whole run, in the main process: the
    xdist workers inherit its URL and each creates its own database on it."""
    config.addinivalue_line("markers", "database: the test uses the test database (automatic)")
    config.addinivalue_line(
        "markers", "sqlite_only: checks SQLite's own behaviour; not collected on another database"
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only: checks what only PostgreSQL shows (pg_stat_activity); not collected "
        "on SQLite",
    )
    config.addinivalue_line(
        "markers",
        "workers: several worker processes or machines share one database; scripts/test runs"
        " these in its PostgreSQL pass only (the production database: SQLite serves the"
        " one-machine run command, whose path the other infrastructure tests cover)",
    )
    config.addinivalue_line(
        "markers",
        "one_machine: the run command's one-machine path end to end with terraform (deploy,"
        " review, undeploy, delete, domains, the console's first day); scripts/test runs"
        " these in its SQLite pass only (the run command's database), the same paths on"
        " PostgreSQL being covered by the live-client, scale-out and fault tests",
    )
    # A run started in the background (scripts/test's PostgreSQL pass, nohup, CI) inherits
    # SIGINT ignored, and so would every process the tests start: tests check that
    # terraform stops on SIGINT.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(config, "workerinput"):
        return
    # scripts/test stops a pass with SIGTERM: end it like Ctrl-C, so that cleanups run and
    # the throwaway servers stop.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if os.environ.get("TEST_DATABASE_URL"):
        return
    if os.environ.get("TEST_DATABASE", "sqlite") != "postgresql":
        return
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    pg = stack.enter_context(postgres())
    stack.callback(os.environ.pop, "TEST_DATABASE_URL", None)
    os.environ["TEST_DATABASE_URL"] = pg.url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use the test database; with ``--database-tests-only`` run only
    those; on PostgreSQL leave out the tests of SQLite's own behaviour."""
    on_postgresql = os.environ.get("TEST_DATABASE", "sqlite") == "postgresql"
    skipped = []
    for item in items:
        other_database = "sqlite_only" if on_postgresql else "postgresql_only"
        if item.get_closest_marker(other_database):
            skipped.append(item)
        elif DATABASE_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
        elif config.getoption("--database-tests-only"):
            skipped.append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item not in skipped]
    _heavy_files_first(items)


HEAVY_MARKERS = ("workers", "one_machine")  # terraform runs, worker processes, servers


def _heavy_files_first(items: list[pytest.Item]) -> None:
    """The files of the long tests (deploys with terraform, several workers) first, so
    that pytest-xdist (``--dist loadfile --no-loadscope-reorder`` in scripts/test, which
    hands out files in this order) starts them while the short files fill the other
    workers' time, rather than last (its default order is by number of tests, and these
    files have few), one worker running the last of them alone."""
    heavy = {item.path for item in items if any(item.get_closest_marker(m) for m in HEAVY_MARKERS)}
    items.sort(key=lambda item: item.path not in heavy)  # stable: files stay whole


def on_own_connection(
    database_url: str, sql: str, params: dict[str, Any] | None = None, *, commit: bool = True
) -> list[Any]:
    """Run ``sql`` on a connection of its own, as another process (the CLI, another pod,
    an operator's psql) would, committed or rolled back; its rows, if it returns any."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            result = connection.execute(text(sql), params or {})
            rows = list(result.all()) if result.returns_rows else []
            if commit:
                connection.commit()
            else:
                connection.rollback()
    finally:
        engine.dispose()
    return rows


@contextlib.contextmanager
def new_database(server_url: str, name: str) -> Iterator[str]:
    """A new, empty database ``name`` on the PostgreSQL server of ``server_url``, dropped
    afterwards; yields its URL."""
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test database: SQLite in a temporary file, else a PostgreSQL database (under
    xdist, one database per worker on the run's server, so that workers never share
    tables)."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url and worker:
        with new_database(url, f"{make_url(url).database}_{worker}") as worker_url:
            yield worker_url
    elif url:
        yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture
def scratch_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the suite's kind (a file, or one more database on the
    suite's PostgreSQL server), dropped afterwards: for tests that run the migrations."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    with new_database(database_url, f"scratch_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    """Run the real migrations once per test session."""
    app = create_app(_settings(database_url))
    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        db.engine.dispose()
    return database_url


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name != "routing_version"]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.execute(text("UPDATE routing_version SET version = version + 1"))
    llm_model_migration(db.session.connection())  # the catalog, as every migrated database has it
    db.session.commit()


@pytest.fixture
def make_app(migrated: str) -> Iterator:
    """Build apps with setting overrides, all on the migrated test database."""
    made: list[Flask] = []

    def factory(**overrides) -> Flask:
        app = create_app(_settings(migrated, **overrides))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Iterator[Flask]:
    application = make_app()
    with application.app_context():
        _empty_tables()
        yield application
        db.session.remove()


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def account(app: Flask) -> Account:
    return account_service.create_account("Acme Corp")


@pytest.fixture
def make_client(app: Flask):
    def factory(account: Account, name: str = "demo", *, deployed: bool = True, **fields):
        spec = client_service.parse_spec(name=name, **fields)
        return client_service.create_client(account, spec, deployed=deployed)

    return factory


@pytest.fixture
def demo(account: Account, make_client) -> LlmClient:
    return make_client(account, "demo", system_prompt="You are helpful.")


def host_of(client: LlmClient) -> str:
    return f"{client.name}.{client.account.account_number}.{CUSTOMER_DOMAIN}"


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server (no persistence) for one test module; yields its URL."""
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_app(make_app, redis_url):
    """The shared fixtures' app with a Redis (emptied) for the limits and the queue: a
    test module takes it as its ``app`` (``def app(redis_app): return redis_app``)."""
    application = make_app(REDIS_URL=redis_url)
    with application.app_context():
        _empty_tables()
        Redis.from_url(redis_url).flushall()
        yield application
        db.session.remove()
