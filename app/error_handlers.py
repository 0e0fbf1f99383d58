"""Every error becomes the contract's JSON body with a fitting status; never a traceback."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.errors import ChatdockError
from app.extensions import db
from app.llm.base import ProviderError
from app.logging_setup import get_logger

log = get_logger("chatdock.errors")

# PostgreSQL: lock_not_available, serialization_failure, deadlock_detected.
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})
SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)
DATABASE_BUSY_RETRY_SECONDS = 2

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _for_console() -> bool:
    """Console pages get HTML error pages in the console's look; everything else JSON,
    and so do the console's own script calls (the sandbox posts JSON and shows the
    server's message, e.g. a provider's missing API key)."""
    path = request.path
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return False
    return path == "/admin" or (path.startswith("/admin/") and not path.endswith(".json"))


def console_error_page(status: int, message: str) -> tuple[str, int]:
    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 500: "Server error"}
    title = titles.get(status, "Error")
    return render_template("admin/error.html", status=status, title=title, message=message), status


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    if _for_console():
        page, _ = console_error_page(status, message)
        return page, status, headers or {}
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _chatdock_error(error: ChatdockError) -> ResponseReturnValue:
    if _for_console():
        return console_error_page(error.status, error.message)
    response = jsonify(error.to_dict())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _provider_error(error: ProviderError) -> ResponseReturnValue:
    log.warning("provider_error", code=error.code, status=error.status)
    return error_response(error.status, error.code, error.message)


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    message = "The form expired or came from another site: reload the page and try again."
    return error_response(400, "csrf_failed", message)


def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    message = "request body too large" if status == 413 else (error.description or error.name)
    # Keep the exception's own headers (a 405's Allow, a 401's WWW-Authenticate), not its
    # HTML content type.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return error_response(
        status, HTTP_CODES.get(status, error.name.lower().replace(" ", "_")), message, headers
    )


def is_database_busy(error: OperationalError) -> bool:
    """A lock or a conflict another transaction holds, gone on a retry: SQLite's busy or
    locked database, PostgreSQL's lock_not_available, serialization failure, deadlock."""
    cause = error.orig
    if getattr(cause, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int) and sqlite_code & 0xFF in SQLITE_BUSY_CODES:
        return True
    return "database is locked" in str(cause)


def _is_transient(error: DBAPIError | PoolTimeout) -> bool:
    """Gone on a retry: a busy database, no pooled connection free in time (a burst), or
    a connection the database dropped (a restart: the pool is recycled at once)."""
    if isinstance(error, PoolTimeout):
        return True
    return error.connection_invalidated or (
        isinstance(error, OperationalError) and is_database_busy(error)
    )


def _holds_nul(error: DBAPIError | PoolTimeout) -> bool:
    """Input with a NUL reached a query: the validators missed a field, the caller's
    input is still what is wrong (psycopg refuses it before PostgreSQL sees it)."""
    return isinstance(error, DataError) and "NUL (0x00)" in str(getattr(error, "orig", ""))


def _database_error(error: DBAPIError | PoolTimeout) -> ResponseReturnValue:
    """A transient database failure is 503 with ``Retry-After`` (the caller retries),
    a NUL character in input (which PostgreSQL text cannot hold) a 400, anything else a
    500; never the statement or its parameters in the log."""
    if _holds_nul(error):
        db.session.rollback()
        return error_response(
            400, "invalid_request", "the request holds a NUL character, which is not allowed"
        )
    if not _is_transient(error):
        return _unexpected(error)
    db.session.rollback()
    cause = getattr(error, "orig", None)
    log.warning(
        "database_busy",
        error_type=type(cause or error).__name__,
        sqlstate=getattr(cause, "sqlstate", None),
    )
    return error_response(
        503,
        "database_busy",
        "the database is busy: retry shortly",
        {"Retry-After": str(DATABASE_BUSY_RETRY_SECONDS)},
    )


def _unexpected(error: Exception) -> ResponseReturnValue:
    db.session.rollback()  # a failed flush must not poison the rest of the request
    log.exception("unhandled_error", error_type=type(error).__name__)
    return error_response(
        500, "internal_error", f"internal error (request id {g.get('request_id', '-')})"
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ChatdockError, _chatdock_error)
    app.register_error_handler(ProviderError, _provider_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(PoolTimeout, _database_error)
    app.register_error_handler(Exception, _unexpected)
