"""The tools of one chat request, read before the database is given back, and the
calls the loop made, written with the turn.

Only clients with built-in functions or attached plugins pay for this: the chat
settings query says whether there are any (``ChatSettings.functions``/``has_plugins``).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection as DbConnection
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from app.config import current_settings
from app.extensions import db
from app.models import Plugin, ToolCallRecord, client_plugins
from app.models.common import utcnow
from app.secret_box import SecretUnavailable
from app.services.chat_settings import ChatSettings
from app.services.tools import connection_config, spec_of, tool_limits
from app.tools.base import CallRecord
from app.tools.loop import Toolset
from app.tools.plugins import offered, plugin_tool, selected

TOOL_CALLS = ToolCallRecord.__table__
log = structlog.get_logger(__name__)


def toolset_for(client: ChatSettings, latest_user_message: str) -> Toolset | None:
    """The tools offered to this request (None: none, a plain completion)."""
    if not client.functions and not client.has_plugins:
        return None
    settings = current_settings()
    tools = []
    if client.has_plugins:
        plugins = db.session.execute(
            select(Plugin)
            .join(client_plugins, client_plugins.c.plugin_id == Plugin.id)
            .where(client_plugins.c.client_id == client.id)
            .options(selectinload(Plugin.connection))
            .order_by(Plugin.name)
        ).scalars()
        for plugin in plugins:
            spec = spec_of(plugin)
            if not selected(spec.selector, latest_user_message):
                continue  # its connection's secrets are not even unsealed
            try:
                connection = connection_config(plugin.connection) if plugin.connection else None
            except SecretUnavailable:  # keys rotated away: the call fails, not the chat
                log.warning("connection_secrets_unavailable", plugin=plugin.name)
                connection = None
            tools.append(plugin_tool(plugin.name, spec, connection))
    chosen = offered(list(client.functions), tools, settings.TOOLS_MAX_PER_REQUEST)
    if not chosen:
        return None
    return Toolset(chosen, tool_limits(), settings.TOOLS_MAX_ROUNDS)


def store_calls(connection: DbConnection, message_id: int, records: list[CallRecord]) -> None:
    """The loop's calls, with the assistant message they led to (the caller's transaction)."""
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "message_id": message_id,
            "round": r.round,
            "name": r.name,
            "arguments": r.arguments,
            "outcome": r.outcome,
            "duration_ms": r.duration_ms,
            "result_chars": r.result_chars,
            "created_at": now,
        }
        for r in records
    ]
    connection.execute(insert(TOOL_CALLS), rows)
