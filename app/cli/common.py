"""Shared CLI plumbing: service errors become a clear message and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from app.errors import ChatdockError, InvalidInput

F = TypeVar("F", bound=Callable[..., Any])


class ServiceFailure(click.ClickException):
    """Exit 2 for bad input (like click's usage errors), 1 for everything else."""

    def __init__(self, error: ChatdockError) -> None:
        super().__init__(error.message)
        self.exit_code = 2 if isinstance(error, InvalidInput) else 1


def service_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChatdockError as error:
            raise ServiceFailure(error) from None

    return wrapper  # type: ignore[return-value]


def fmt_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"
