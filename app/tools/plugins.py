"""A plugin's spec made into a tool, and which tools a request is offered.

Selection: a plugin whose selector says ``always`` is offered on every request; one with
``searchTerms`` when one of its words or phrases is in the latest user message (case
folded, whole words). Built-in functions the client enabled are always offered. At most
``TOOLS_MAX_PER_REQUEST`` tools: built-ins first, then plugins in name order.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from app.llm.base import ToolSpec
from app.tools.api import call_api
from app.tools.base import ConnectionConfig, Limits, Tool, ToolFailed
from app.tools.builtins import BUILTINS
from app.tools.specs import PluginSpec, Selector, parameters_schema
from app.tools.sql import run_query


def _static(data: Any, arguments: dict[str, Any], limits: Limits) -> Any:
    return data


def _connection(connection: ConnectionConfig | None, kind: str) -> ConnectionConfig:
    if connection is None or connection.type != kind:
        raise ToolFailed(f"the plugin's {kind} connection is missing")
    return connection


def _sql(
    spec: PluginSpec, connection: ConnectionConfig | None, arguments: dict[str, Any], limits: Limits
) -> Any:
    assert spec.sql is not None
    # Every declared parameter is bound (None when left out): the query's text never
    # changes with the arguments.
    values = {p.name: arguments.get(p.name) for p in spec.parameters}
    return run_query(_connection(connection, "sql"), spec.sql.query, values, limits, spec.sql.limit)


def _api(
    spec: PluginSpec, connection: ConnectionConfig | None, arguments: dict[str, Any], limits: Limits
) -> Any:
    assert spec.api is not None
    return call_api(
        _connection(connection, "api"), spec.api.method, spec.api.path, arguments, limits
    )


def plugin_tool(name: str, spec: PluginSpec, connection: ConnectionConfig | None) -> Tool:
    """The tool a plugin is: its name is the function name (stable, never an id)."""
    tool_spec = ToolSpec(name, spec.description or name, parameters_schema(spec.parameters))
    if spec.type == "static":
        assert spec.static is not None
        return Tool(tool_spec, partial(_static, spec.static.data), kind="static")
    runner = _sql if spec.type == "sql" else _api
    return Tool(tool_spec, partial(runner, spec, connection), kind=spec.type)


def _mentions(text: str, term: str) -> bool:
    words = term.casefold().split()
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    return re.search(pattern, text) is not None


def selected(selector: Selector, latest_user_message: str) -> bool:
    if selector.always:
        return True
    text = latest_user_message.casefold()
    return any(_mentions(text, term) for term in selector.search_terms)


def offered(functions: list[str], plugins: list[Tool], most: int) -> dict[str, Tool]:
    """The tools of one request by name: the enabled built-ins, then the selected
    plugins, at most ``most``."""
    tools = [BUILTINS[name] for name in functions if name in BUILTINS] + plugins
    return {tool.name: tool for tool in tools[:most]}
