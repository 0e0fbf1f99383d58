"""Shared CLI plumbing: service errors become a clear message and a non-zero exit."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import click
from sqlalchemy import Connection
from tabulate import tabulate

from app.errors import ChatdockError, InvalidInput
from app.extensions import db
from app.names import escape_control_characters

F = TypeVar("F", bound=Callable[..., Any])


class ServiceFailure(click.ClickException):
    """Exit 2 for bad input (like click's usage errors), 1 for everything else."""

    def __init__(self, error: ChatdockError) -> None:
        super().__init__(error.message)
        # click types exit_code as a class variable; click reads it from the instance.
        self.exit_code = 2 if isinstance(error, InvalidInput) else 1  # type: ignore[misc]


def service_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChatdockError as error:
            raise ServiceFailure(error) from None

    return wrapper  # type: ignore[return-value]


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@contextlib.contextmanager
def transaction(*, commit: bool = True) -> Iterator[Connection]:
    """The session's connection for Core work (the code migrations run too): committed
    at the end (or rolled back, ``commit=False``, for previews), rolled back on error."""
    try:
        yield db.session.connection()
        if commit:
            db.session.commit()
    finally:
        db.session.rollback()  # after a commit: nothing left to roll back


def echo_table(
    headers: list[str], rows: list[list[Any]], right: frozenset[int] = frozenset()
) -> None:
    """Print rows under headers in columns as wide as their widest cell, two spaces
    apart, so long values (workspace keys, names) never run into the next column.
    Control characters in a cell (a label's escape sequence or newline) print escaped:
    one row stays one line, and the terminal runs nothing it was handed."""
    align = ["right" if i in right else "left" for i in range(len(headers))]
    cells = [
        [None if c is None else escape_control_characters(str(c)) for c in row] for row in rows
    ]
    text = tabulate(cells, headers, tablefmt="plain", disable_numparse=True, colalign=align)
    click.echo(text)
