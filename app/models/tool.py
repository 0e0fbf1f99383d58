"""Tools of an account: connections (where a plugin reads from), plugins (what a model
may call), which clients offer which plugins, and the record of every call a model made.

A connection's secrets (a database password, API headers) are one sealed token
(:mod:`app.secret_box`) in ``secrets``; nothing reads them but the executors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db
from app.models.common import UTCDateTime, utcnow

client_plugins = Table(
    "client_plugins",
    db.metadata,
    Column("client_id", ForeignKey("llm_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("plugin_id", ForeignKey("plugins.id", ondelete="CASCADE"), primary_key=True),
)


class Connection(Model):
    """Where ``sql`` and ``api`` plugins connect: a database URL or an API base URL."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_connections_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(8))  # api | sql
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never a secret
    secrets: Mapped[str] = mapped_column(Text, default="")  # sealed JSON, "" when none
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Plugin(Model):
    """A tool: its name is the function name the model calls (stable, never an id)."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_plugins_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(8))  # static | sql | api
    description: Mapped[str] = mapped_column(Text, default="")
    selector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the type's block
    # A connection in use cannot be deleted (RESTRICT): detach or delete the plugin first.
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    connection: Mapped[Connection | None] = relationship()


class ToolCallRecord(Model):
    """One call a model made during a turn, stored with the turn's assistant message."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[str] = mapped_column(Text)  # JSON as the model sent it (capped)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error | invalid | timeout
    duration_ms: Mapped[int] = mapped_column()
    result_chars: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
