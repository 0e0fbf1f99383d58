"""One tool call: parse and validate the model's arguments, run the tool, and turn
whatever happens into a result for the model (never an exception for the request).

Arguments that are not JSON or do not match the tool's JSON Schema are not run; the
validation error is the result, so the model can correct itself on the next round.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from jsonschema import Draft202012Validator

from app.llm.base import ToolCall, ToolResult
from app.metrics import TOOL_CALLS, TOOL_LATENCY
from app.tools.base import CallRecord, Limits, Tool, ToolFailed

log = structlog.get_logger(__name__)

MAX_STORED_ARGUMENTS = 4000


def _arguments(tool: Tool, call: ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError:
        raise ToolFailed("the arguments are not valid JSON", "invalid") from None
    if not isinstance(arguments, dict):
        raise ToolFailed("the arguments must be a JSON object", "invalid")
    errors = sorted(
        Draft202012Validator(tool.spec.parameters).iter_errors(arguments), key=lambda e: e.path
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "arguments"
        raise ToolFailed(f"invalid arguments: {where}: {errors[0].message}", "invalid")
    defaults = {
        name: prop["default"]
        for name, prop in tool.spec.parameters.get("properties", {}).items()
        if "default" in prop
    }
    return defaults | arguments


def cap(text: str, limit: int) -> str:
    """A result the model can still read: cut at ``limit`` characters, and said so."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: the result was longer than {limit} characters]"


def run_call(
    tool: Tool | None, call: ToolCall, limits: Limits, round_number: int
) -> tuple[ToolResult, CallRecord]:
    """Run one call; the result (an error is a result too) and its record."""
    started = time.perf_counter()
    outcome = "ok"
    kind = tool.kind if tool is not None else "unknown"
    try:
        if tool is None:
            raise ToolFailed(f"there is no tool named {call.name[:64]!r}", "unknown")
        value = tool.run(_arguments(tool, call), limits)
        content = value if isinstance(value, str) else json.dumps(value, default=str)
    except ToolFailed as failure:
        outcome, content = failure.outcome, failure.message
    except Exception as error:  # a bug in a tool must not fail the chat
        log.exception("tool_failed", tool=call.name)
        outcome, content = "error", f"the tool failed ({type(error).__name__})"
    return finish(call, kind, outcome, content, started, limits, round_number)


def finish(
    call: ToolCall,
    kind: str,
    outcome: str,
    content: str,
    started: float,
    limits: Limits,
    round_number: int,
) -> tuple[ToolResult, CallRecord]:
    """The result and record of a call, counted in /metrics."""
    seconds = time.perf_counter() - started
    TOOL_CALLS.labels(kind=kind, outcome=outcome).inc()
    TOOL_LATENCY.labels(kind=kind).observe(seconds)
    content = cap(content if outcome == "ok" else f"error: {content}", limits.max_result_chars)
    result = ToolResult(call.id, call.name, content, is_error=outcome != "ok")
    record = CallRecord(
        round=round_number,
        name=call.name[:64],
        arguments=call.arguments[:MAX_STORED_ARGUMENTS],
        outcome=outcome,
        duration_ms=int(seconds * 1000),
        result_chars=len(content),
    )
    return result, record
