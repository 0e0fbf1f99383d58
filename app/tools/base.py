"""What the tool loop runs: a tool as plain values, and what one call gave back.

The services build :class:`Tool` values from the database (secrets unsealed) before the
database connection is given back; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.llm.base import ToolSpec


class ToolFailed(Exception):
    """A tool could not give an answer; the message goes back to the model as the
    result, so it never names a secret (a password, a header value)."""

    def __init__(self, message: str, outcome: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome  # error | timeout | invalid | refused


@dataclass(frozen=True)
class ConnectionConfig:
    """A connection as an executor needs it: ``secrets`` already unsealed."""

    name: str
    type: str  # api | sql
    config: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """The platform's tool settings, passed in (no Flask in here)."""

    timeout: float = 10.0
    max_result_chars: int = 16_000
    sql_max_rows: int = 100
    api_max_response_bytes: int = 1_000_000
    allowed_networks: tuple[Any, ...] = ()  # ipaddress networks (TOOLS_ALLOWED_NETWORKS)


Executor = Callable[[dict[str, Any], Limits], Any]


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its spec and how to run it."""

    spec: ToolSpec
    run: Executor
    kind: str = "builtin"  # static | sql | api | builtin (the /metrics label)

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class CallRecord:
    """One call as stored with the turn and counted in /metrics."""

    round: int
    name: str
    arguments: str
    outcome: str  # ok | error | invalid | timeout | refused | unknown
    duration_ms: int
    result_chars: int
