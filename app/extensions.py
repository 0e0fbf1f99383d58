"""Flask extension singletons, bound to the app in create_app()."""

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from flask import request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""


Base.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FSAModel

    class Model(_FSAModel, Base):
        """What ``db.Model`` is at run time (Flask-SQLAlchemy builds it from ``Base``'s bases
        plus its query and bind mixins), spelled as a class: mypy cannot take an attribute
        of an instance as a base class (python/mypy#8603). Every model maps a ``Table``
        (SQLAlchemy types ``__table__`` as any ``FromClause``), which Core statements use."""

        __abstract__ = True
        __table__: ClassVar[Table]
else:
    Model = db.Model
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
# The console's login limit; the chat counts its own (app.services.chat_rate).
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


@limiter.request_filter
def _chat_counts_itself() -> bool:
    """Flask-Limiter's per-request hooks skip the chat blueprint (the hot path)."""
    return request.blueprint == "chat"


def in_transaction() -> bool:
    """Whether the request's session has begun a transaction; asked without making a
    session for a request that has none (most chats: settings kept, one write of their
    own), which would then be made, closed and expunged for nothing."""
    return db.session.registry.has() and db.session().in_transaction()


def autocommit_reads() -> None:
    """Let the statements that follow, until the session's next commit, commit each on
    its own. For a chat request, which only reads before it calls the model and then
    writes its turn in one statement of its own: no BEGIN and COMMIT round trips, no
    transaction open while the greenlet waits. Called where a chat first reads (nothing
    is checked out when it needs no read); a no-op inside a begun transaction."""
    if not in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def execute_autocommit(sql: str, params: Mapping[str, Any]) -> None:
    """Run one statement of the driver's SQL (``sql``, compiled once by the caller) on a
    pooled connection of its own, committing on its own, outside the session.

    The chat turn's write: on the DBAPI connection SQLAlchemy's pool lends, because a
    ``Connection`` around it (checkout events, the isolation switch there and back,
    result setup) cost as much CPU as the statement itself (in-process, 1.20 -> 1.00 ms
    a chat). Errors are SQLAlchemy's as from any statement, and a dropped connection
    renews the pool as there (the error handlers answer 503, the next chat is served),
    so callers see no difference."""
    engine = db.engine
    pooled = engine.raw_connection()
    driver: Any = pooled.driver_connection
    try:
        driver.autocommit = True
        driver.execute(sql, params)
        driver.autocommit = False
    except BaseException as error:
        # Failed or interrupted (a greenlet killed mid-statement): never give the pool a
        # connection that may still be in autocommit; a session's transaction on it
        # would not be one. Failures are rare, a new connection is cheap.
        failed = isinstance(error, engine.dialect.loaded_dbapi.Error)
        dropped = failed and engine.dialect.is_disconnect(cast(Any, error), driver, None)
        pooled.invalidate(error if isinstance(error, Exception) else None)
        if not failed:
            raise
        if dropped:  # the server went away: its other connections too, as SQLAlchemy
            engine.dispose(close=False)  # assumes of a disconnect on a Connection
        raise DBAPIError.instance(
            sql,
            dict(params),
            error,
            engine.dialect.loaded_dbapi.Error,
            connection_invalidated=dropped,
            dialect=engine.dialect,
        ) from error
    finally:
        pooled.close()


login_manager = LoginManager()
# The console's CSS framework (Bootstrap 5), served from the package's own static files.
bootstrap = Bootstrap5()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: DBAPIConnection, connection_record: object) -> None:
    """Per-connection SQLite settings: foreign keys (SQLite ignores ON DELETE CASCADE
    without them) and write-ahead logging, so readers (chat requests) never wait for a
    writer and writers queue for the busy timeout (``SQLITE_BUSY_TIMEOUT_SECONDS``, the
    driver's ``timeout``) instead of failing with "database is locked"."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL is a property of the database file (a no-op once set, and in-memory
        # databases keep "memory"); NORMAL is durable enough with WAL and much faster.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
