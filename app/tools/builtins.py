"""Built-in functions a client can enable: arithmetic, date arithmetic, the time in a
time zone. None of them reaches a network.

The calculator walks Python's AST and allows numbers, + - * / // % ** and unary signs
only (no names, calls or attributes: no ``eval``), with caps on exponents and sizes so
``9**9**9`` cannot eat the worker.
"""

from __future__ import annotations

import ast
import operator
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.llm.base import ToolSpec
from app.tools.base import Limits, Tool, ToolFailed

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 10**100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return cast(int | float, node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return cast(int | float, _UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolFailed(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, complex) or abs(value) > MAX_MAGNITUDE:
            raise ToolFailed("the result is too large or not a real number")
        return cast(int | float, value)
    raise ToolFailed("only numbers, parentheses and + - * / // % ** are allowed in an expression")


# CPython 3.11 keeps ast.parse's recursion counter per interpreter, not per thread: two
# threads parsing at once (a round's calls run on a thread pool) can fail with
# "SystemError: AST constructor recursion depth mismatch" (gh-106905, fixed in 3.11.8).
_PARSING = threading.Lock()


def calculate(arguments: dict[str, Any], limits: Limits) -> Any:
    expression = str(arguments["expression"])
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolFailed(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        with _PARSING:
            tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise ToolFailed(f"not an arithmetic expression: {error.msg}") from None
    try:
        return {"expression": expression, "result": _evaluate(tree)}
    except ZeroDivisionError:
        raise ToolFailed("division by zero") from None
    except OverflowError:
        raise ToolFailed("the result is too large") from None


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ToolFailed(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


def date_calculate(arguments: dict[str, Any], limits: Limits) -> Any:
    start = _date(arguments["date"], "date")
    if arguments["operation"] == "difference":
        if "other" not in arguments:
            raise ToolFailed("difference needs other (YYYY-MM-DD)")
        other = _date(arguments["other"], "other")
        return {"date": str(start), "other": str(other), "days": (other - start).days}
    days = int(arguments.get("days", 0))
    sign = 1 if arguments["operation"] == "add" else -1
    try:
        result = start + timedelta(days=sign * days)
    except OverflowError:
        raise ToolFailed("the date is out of range") from None
    return {"date": str(result), "weekday": result.strftime("%A")}


def current_time(arguments: dict[str, Any], limits: Limits) -> Any:
    name = arguments.get("timezone") or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolFailed(
            f"unknown time zone {name[:60]!r} (an IANA name such as Europe/Paris)"
        ) from None
    now = datetime.now(UTC).astimezone(zone)
    return {
        "timezone": name,
        "time": now.isoformat(timespec="seconds"),
        "weekday": now.strftime("%A"),
    }


BUILTINS: dict[str, Tool] = {
    "calculator": Tool(
        ToolSpec(
            "calculator",
            "Evaluate an arithmetic expression (numbers, parentheses, + - * / // % **).",
            {
                "type": "object",
                "properties": {"expression": {"type": "string", "description": "e.g. (2+3)*4"}},
                "required": ["expression"],
                "additionalProperties": False,
            },
        ),
        calculate,
    ),
    "date_calculator": Tool(
        ToolSpec(
            "date_calculator",
            "Add or subtract days to a date, or count the days between two dates.",
            {
                "type": "object",
                "properties": {
                    "operation": {"type": "string", "enum": ["add", "subtract", "difference"]},
                    "date": {"type": "string", "description": "YYYY-MM-DD"},
                    "days": {"type": "integer", "description": "for add and subtract"},
                    "other": {"type": "string", "description": "YYYY-MM-DD, for difference"},
                },
                "required": ["operation", "date"],
                "additionalProperties": False,
            },
        ),
        date_calculate,
    ),
    "current_time": Tool(
        ToolSpec(
            "current_time",
            "The current date and time in a time zone (IANA name; UTC when left out).",
            {
                "type": "object",
                "properties": {"timezone": {"type": "string", "description": "e.g. Europe/Paris"}},
                "additionalProperties": False,
            },
        ),
        current_time,
    ),
}
