"""``sql`` plugins: a declared query against an account's database connection.

The model's arguments are bound parameters (``:name``), never text in the SQL. The query
runs in a read-only transaction with a statement timeout, and at most the row limit
comes back. The database host is resolved and checked by the network guard, and the
driver connects to that checked address (so a name that resolves elsewhere later cannot
redirect it); PostgreSQL keeps the host name for TLS.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from app.netguard import NetworkRefused, resolve_checked
from app.tools.base import ConnectionConfig, Limits, ToolFailed

DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_MAX_ENGINES = 32
_engines: OrderedDict[tuple[str, str], Engine] = OrderedDict()
_lock = threading.Lock()


def database_url(connection: ConnectionConfig) -> URL:
    """The connection's URL with its driver and (unsealed) password."""
    try:
        url = make_url(connection.config["url"])
    except (ArgumentError, KeyError, ValueError):
        raise ToolFailed(f"connection {connection.name!r} has no valid database URL") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise ToolFailed(f"connection {connection.name!r}: only PostgreSQL and MySQL are supported")
    url = url.set(drivername=DRIVERS[backend])
    password = connection.secrets.get("password")
    return url.set(password=password) if password else url


def _engine(url: URL, address: str) -> Engine:
    """One engine (and pool) per connection URL and checked address."""
    key = (url.render_as_string(hide_password=False), address)
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            _engines.move_to_end(key)
            return engine
    backend = url.get_backend_name()
    if backend == "postgresql":
        # hostaddr: connect to the checked address; host stays the name (TLS, pg_hba).
        args: dict[str, Any] = {"hostaddr": address, "connect_timeout": 5}
    else:
        url = url.set(host=address)
        args = {"connect_timeout": 5}
    engine = create_engine(
        url, connect_args=args, pool_size=2, max_overflow=3, pool_pre_ping=True, pool_recycle=300
    )
    with _lock:
        _engines[key] = engine
        while len(_engines) > _MAX_ENGINES:
            _engines.popitem(last=False)[1].dispose()
    return engine


def run_query(
    connection: ConnectionConfig,
    query: str,
    arguments: dict[str, Any],
    limits: Limits,
    row_limit: int | None = None,
) -> dict[str, Any]:
    """Rows of the query as JSON objects, at most ``row_limit`` (and the platform's cap)."""
    url = database_url(connection)
    backend = url.get_backend_name()
    host = url.host or "localhost"
    try:
        address = resolve_checked(
            host, url.port or DEFAULT_PORTS[backend], list(limits.allowed_networks)
        )[0]
    except NetworkRefused as refused:
        raise ToolFailed(str(refused), "refused") from None
    limit = min(row_limit or limits.sql_max_rows, limits.sql_max_rows)
    timeout_ms = max(1, int(limits.timeout * 1000))
    statement = text(query)
    try:
        with _engine(url, address).connect() as db:
            if backend == "postgresql":
                db = db.execution_options(postgresql_readonly=True)
                with db.begin():
                    db.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")
                    return _rows(db.execute(statement, arguments), limit)
            db.exec_driver_sql(f"SET SESSION max_execution_time = {timeout_ms}")
            db.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            with db.begin():
                return _rows(db.execute(statement, arguments), limit)
    except DBAPIError as error:
        raise _failure(error, backend) from None
    except SQLAlchemyError as error:
        raise ToolFailed(f"the query failed: {type(error).__name__}") from None


def _rows(result: Any, limit: int) -> dict[str, Any]:
    if not result.returns_rows:
        return {"rows": [], "row_count": 0, "truncated": False}
    columns = list(result.keys())
    fetched = result.fetchmany(limit + 1)
    rows = [dict(zip(columns, row, strict=True)) for row in fetched[:limit]]
    return {"rows": rows, "row_count": len(rows), "truncated": len(fetched) > limit}


def _failure(error: DBAPIError, backend: str) -> ToolFailed:
    """The database's own first line (it names no password), timeouts told apart."""
    message = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    lowered = message.lower()
    if "statement timeout" in lowered or "maximum statement execution time" in lowered:
        return ToolFailed(f"the query took longer than the tool timeout: {message}", "timeout")
    if error.connection_invalidated or "connect" in lowered:
        return ToolFailed(f"the database could not be reached: {message}")
    return ToolFailed(f"the query failed: {message}")
