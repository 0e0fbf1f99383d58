"""What a failed terraform command means: its diagnostics, and whether a retry may help.

A failure raises :class:`TerraformError` carrying the diagnostics and a ``kind``:
transient (network, throttling, state lock, timeouts: worth a retry) vs not
(configuration, stale plan, access denied: a retry gives the same answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ErrorKind = Literal["transient", "stale_plan", "configuration"]


@dataclass(frozen=True)
class Diagnostic:
    """One terraform diagnostic (error or warning) from the ``-json`` stream."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None
    location: str | None = None  # "main.tf line 3" for configuration errors

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Diagnostic:
        raw = event.get("diagnostic") or {}
        rng = raw.get("range") or {}
        location = None
        if rng.get("filename"):
            line = (rng.get("start") or {}).get("line")
            location = f"{rng['filename']} line {line}" if line else rng["filename"]
        return cls(
            severity=str(raw.get("severity") or event.get("@level") or "error"),
            summary=str(raw.get("summary") or event.get("@message") or ""),
            detail=str(raw.get("detail") or ""),
            address=raw.get("address"),
            location=location,
        )

    def text(self) -> str:
        where = ", ".join(part for part in (self.address, self.location) if part)
        head = f"{self.summary} ({where})" if where else self.summary
        return f"{head}: {self.detail.strip()}" if self.detail.strip() else head


_TRANSIENT_PATTERNS = [
    r"connection refused",
    r"connection reset",
    r"broken pipe",
    r"no such host",
    r"network is unreachable",
    r"no route to host",
    r"temporary failure in name resolution",
    r"server misbehaving",
    r"i/o timeout",
    r"timed out",
    r"timeout while waiting",
    r"timeout exceeded",
    r"client\.timeout",
    r"deadline exceeded",
    r"tls handshake timeout",
    r"unexpected eof",
    r"request send failed",
    r"throttl",
    r"rate exceeded",
    r"too many requests",
    r"requestlimitexceeded",
    r"slow ?down",
    r"priorrequestnotcomplete",
    r"service ?unavailable",
    r"\binternalerror\b",
    r"internal server error",
    r"internalfailure",
    r"statuscode: (429|5\d\d)\b",
    r"state lock",  # "Error acquiring the state lock", "Error releasing the state lock"
    r"error locking state",
]
_TRANSIENT_RE = re.compile("|".join(f"(?:{p})" for p in _TRANSIENT_PATTERNS), re.IGNORECASE)
_STALE_RE = re.compile(r"saved plan is stale", re.IGNORECASE)


def classify(
    diagnostics: Sequence[Diagnostic], text: str = "", signaled: bool = False
) -> ErrorKind:
    """Transient only when every error is (a retry of the same command may succeed).

    ``text`` is non-JSON output (stderr), used when there are no error diagnostics;
    ``signaled`` means terraform was killed by a signal (OOM killer, an operator).
    """
    errors = [d for d in diagnostics if d.severity == "error"]
    blobs = [f"{d.summary}\n{d.detail}" for d in errors] or [text]
    if any(_STALE_RE.search(blob) for blob in blobs):
        return "stale_plan"
    if signaled and not errors:
        return "transient"
    if all(_TRANSIENT_RE.search(blob) for blob in blobs):
        return "transient"
    return "configuration"


class TerraformError(RuntimeError):
    """A terraform command failed; ``str()`` has the diagnostics, ``transient`` says if
    retrying the job may help."""

    def __init__(
        self,
        command: str,
        exit_code: int | None,
        message: str,
        *,
        diagnostics: Sequence[Diagnostic] = (),
        kind: ErrorKind = "configuration",
    ) -> None:
        super().__init__(message)
        self.command = command
        self.exit_code = exit_code
        self.message = message
        self.diagnostics = tuple(diagnostics)
        self.kind: ErrorKind = kind

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    @property
    def stale_plan(self) -> bool:
        return self.kind == "stale_plan"


class TerraformTimeout(TerraformError):
    """The command ran longer than the runner's timeout and was stopped (transient)."""

    def __init__(self, command: str, exit_code: int | None, message: str, **kwargs: Any) -> None:
        kwargs["kind"] = "transient"
        super().__init__(command, exit_code, message, **kwargs)


class TerraformAborted(RuntimeError):
    """The runner's ``abort`` check asked to stop (e.g. the workspace lock was lost):
    terraform was not started, or was stopped gracefully (state saved)."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"terraform {command} stopped: {reason}")
        self.command = command
        self.reason = reason
