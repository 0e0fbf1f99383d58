"""Reading what terraform prints: ``-json`` events, diagnostics, plain lines.

Each line of a command's output is cleaned (colour codes, the frame of human-readable
diagnostics), parsed when it is a ``-json`` event, kept in :class:`Output` and turned
into one log entry (``[level] message``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app.infra.terraform.errors import Diagnostic

StdoutMode = Literal["events", "capture", "text"]

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BOX_RE = re.compile(r"^[\s\u2577\u2502\u2575]+")  # the frame of human-readable diagnostics


@dataclass
class Output:
    """What one command printed: parsed events, stdout capture, non-JSON text."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    stdout: bytearray = field(default_factory=bytearray)
    text: list[str] = field(default_factory=list)

    def add_line(self, raw: bytes, *, from_stdout: bool, mode: StdoutMode) -> str | None:
        """Keep one complete output line; returns what to log (None for a blank line).

        ``mode`` says what stdout carries: ``events`` (``-json``), ``text`` (kept in
        ``stdout`` as well); ``capture`` is handled by the caller (raw bytes, unlogged)."""
        line = clean(raw.decode("utf-8", errors="replace"))
        if not line:
            return None
        if from_stdout and mode == "text":
            self.stdout += raw + b"\n"
            return line
        event = parse_event(line)
        if event is None:
            self.text.append(line)
            return line
        self.events.append(event)
        if event.get("type") == "diagnostic":
            self.diagnostics.append(Diagnostic.from_event(event))
        return format_event(event)

    def error_message(self, head: str) -> str:
        """The message of an error: the error diagnostics, else the last lines of stderr."""
        errors = [d.text() for d in self.diagnostics if d.severity == "error"]
        details = errors or [line for line in self.text if line.strip()][-10:]
        return head + (": " + "; ".join(details) if details else "")


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines, and the unfinished rest."""
    *lines, rest = data.split(b"\n")
    return lines, rest


def clean(line: str) -> str:
    """A line without colour codes and diagnostic frame ("╷", "│ ", "╵")."""
    return _BOX_RE.sub("", _ANSI_RE.sub("", line)).rstrip()


def parse_event(line: str) -> dict[str, Any] | None:
    """The ``-json`` event on ``line``; None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "@message" in event else None


def format_event(event: Mapping[str, Any]) -> str:
    """A ``-json`` event as one human-readable log entry: ``[level] message``."""
    level = str(event.get("@level") or "info")
    if event.get("type") == "diagnostic":
        message = Diagnostic.from_event(event).text()
        prefix = "Error: " if level == "error" else "Warning: " if level == "warn" else ""
        return f"[{level}] {prefix}{message}"
    return f"[{level}] {str(event.get('@message') or '').strip()}"
