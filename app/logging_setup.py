"""Structured (JSON) logs with the request id bound to every line of a request.

No line carries a secret a URL holds: an invitation's token (its link's last segment,
also URL-encoded in a ``?next=``) is written ``[redacted]`` in every line, the access
logs (ours and gunicorn's) and tracebacks included."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# The accept link of an invitation: /admin/invitations/<token> (plain or percent-encoded).
SECRET_IN_PATH = re.compile(r"(admin(?:/|%2F)invitations(?:/|%2F))[^/?#&\s\"'%]+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every token a path carries replaced by ``[redacted]``."""
    return SECRET_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def _redact_event(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """The last step before rendering: every string of the line, the traceback too."""
    return {key: _redacted(value) for key, value in event_dict.items()}


class RedactingFilter(logging.Filter):
    """For the loggers that format their own lines (gunicorn's access and error logs):
    redacts the record's arguments (gunicorn passes the access line's atoms as a dict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted(value) for value in record.args)
        return True


_GUNICORN_FILTER = RedactingFilter()

_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Processor = (
        structlog.dev.ConsoleRenderer()
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    shared = _SHARED
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # drop filtered lines before any work
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(renderer))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name in ("gunicorn.access", "gunicorn.error"):  # not propagated to the root
        logging.getLogger(name).addFilter(_GUNICORN_FILTER)  # once: the same filter


def _formatter(renderer: Processor) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
        foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
    )


def route_command_logs(stderr_level: str, log_file: Path | None) -> None:
    """For a command a person reads: stderr shows only ``stderr_level`` and above (the
    command's own output stays readable), and ``log_file``, when given, gets every line
    at the configured level, as JSON."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(stderr_level.upper())
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(_formatter(structlog.processors.JSONRenderer(sort_keys=False)))
        root.addHandler(to_file)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
