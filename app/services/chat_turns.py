"""A chat turn, prepared and then stored: what the provider is asked, and the one short
transaction that writes the turn, its usage and settles its reserved tokens.

This is the hot path of every chat request: Core statements, no ORM object needed
afterwards, and nothing here holds a database connection while a provider answers.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql

from app.extensions import db, execute_autocommit, in_transaction
from app.llm.base import ChatRequest, ChatTurn, ProviderError, Usage
from app.metrics import PROVIDER_ERRORS, TOKENS
from app.models import ChatMessage, ChatSession
from app.models.common import utcnow
from app.services import chat_tools, limits, usage
from app.services.provider_connections import ConnectionTarget
from app.tools.loop import Toolset

SESSIONS = ChatSession.__table__
MESSAGES = ChatMessage.__table__


@dataclass
class PreparedChat:
    """A validated turn, ready for the provider, and what to store after it. Plain
    values only: the database connection is given back before the provider is called."""

    client_id: int
    client_name: str
    account_id: int
    provider: str
    session_id: int | None  # None: a new session is created when the reply is stored
    session_key: str
    new_turns: list[ChatTurn]
    request: ChatRequest
    api_key_id: int | None
    prompt_estimate: int  # tokens of the prompt as the limits counted it
    deadline_seconds: float  # the client's deadline (or the platform's)
    deadline: float  # time.monotonic() by which the provider must have answered
    received: float  # time.perf_counter() when the request arrived
    model_warning: str | None = None  # the client's model is deprecated: what to use
    limits: limits.Admission | None = None  # the tokens reserved, settled once answered
    provider_seconds: float = 0.0  # time spent waiting on the provider
    connection: ConnectionTarget | None = None  # the account's own provider (None: platform's)
    # Tried in turn when the model before fails (app.services.fallbacks): (provider,
    # model, connection); the one that answers becomes ``provider``/``model``.
    fallbacks: tuple[tuple[str, str, ConnectionTarget | None], ...] = ()
    tools: Toolset | None = None  # the tools offered; its records are stored with the turn
    stored: bool = field(default=False)  # the turn (or its failure) was recorded
    origin: str | None = None  # the browser's site (usage by origin), None from a server
    end_user: str | None = None  # the widget's identified user: the session is theirs

    @property
    def model(self) -> str:
        return self.request.model

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


def usage_key(prepared: PreparedChat) -> dict[str, Any]:
    return {
        "account_id": prepared.account_id,
        "client_id": prepared.client_id,
        "client_name": prepared.client_name,
        "api_key_id": prepared.api_key_id,
        "model": prepared.model,
        "origin": prepared.origin,
        "end_user": prepared.end_user,
    }


def record_error(prepared: PreparedChat, error: ProviderError, latency_ms: int) -> None:
    """Count a failure that produced no reply (metrics, the usage aggregates) and settle
    its reservation: to nothing, or to the tool loop's earlier rounds (they were used)."""
    PROVIDER_ERRORS.labels(provider=prepared.provider, code=error.code).inc()
    if prepared.stored:
        return
    prepared.stored = True
    used = prepared.tools.usage if prepared.tools is not None else Usage()
    usage.record(
        db.session.connection(),
        **usage_key(prepared),
        prompt_tokens=used.prompt_tokens,
        completion_tokens=used.completion_tokens,
        latency_ms=latency_ms,
        error=True,
    )
    db.session.commit()
    if prepared.limits is not None:
        limits.settle(prepared.limits, used.total_tokens)


def persist(prepared: PreparedChat, reply: str, tokens: Usage, latency_ms: int) -> None:
    """Store the new turns, the reply and the usage aggregate at once (once per turn),
    then settle the limits' counters to the tokens used.

    On PostgreSQL that is one statement (the session and the messages inserted in CTEs of
    the usage increment), run in autocommit: atomic as a statement is, one round trip,
    and no transaction that could sit idle between statements. SQLite (no data-modifying
    CTEs) uses one transaction of three statements."""
    if prepared.stored:
        return
    prepared.stored = True
    now = utcnow()
    rows = [
        _BLANK | {"role": turn.role, "content": turn.content, "created_at": now}
        for turn in prepared.new_turns
    ]
    rows.append(
        {
            "role": "assistant",
            "content": reply,
            "prompt_tokens": tokens.prompt_tokens,
            "completion_tokens": tokens.completion_tokens,
            "latency_ms": latency_ms,
            "created_at": now,
        }
    )
    counted = usage.increment(
        **usage_key(prepared),
        prompt_tokens=tokens.prompt_tokens,
        completion_tokens=tokens.completion_tokens,
        latency_ms=latency_ms,
    )
    records = prepared.tools.records if prepared.tools is not None else []
    if records:  # the calls need the reply's id: the generic path returns it
        message_id = _write_in_one_transaction(prepared, rows, counted, now)
        chat_tools.store_calls(db.session.connection(), message_id, records)
    elif db.engine.dialect.name == "postgresql":
        _write_in_one_statement(prepared, rows, counted, now)
    else:
        _write_in_one_transaction(prepared, rows, counted, now)
    if in_transaction():
        db.session.commit()
    if prepared.limits is not None:
        limits.settle(prepared.limits, tokens.total_tokens)
    TOKENS.labels(provider=prepared.provider, kind="prompt").inc(tokens.prompt_tokens)
    TOKENS.labels(provider=prepared.provider, kind="completion").inc(tokens.completion_tokens)


_BLANK: dict[str, Any] = {"prompt_tokens": None, "completion_tokens": None, "latency_ms": None}


def _new_session(prepared: PreparedChat, now: datetime) -> Any:
    return insert(SESSIONS).values(
        client_id=prepared.client_id,
        session_key=prepared.session_key,
        api_key_id=prepared.api_key_id,
        end_user=prepared.end_user,
        created_at=now,
        updated_at=now,
    )


_MESSAGE_COLUMNS = ("role", "content", "prompt_tokens", "completion_tokens", "latency_ms")


@functools.lru_cache(maxsize=32)
def _turn_sql(new_session: bool, rows: int) -> str:
    """The one statement that writes a turn of ``rows`` messages, compiled once per shape
    to the driver's SQL (a multi-row INSERT is not in SQLAlchemy's compiled cache, and
    compiling it cost more than the rest of the request)."""
    ctes = []
    if new_session:
        new = (
            insert(SESSIONS)
            .values(
                client_id=bindparam("s_client_id"),
                session_key=bindparam("s_session_key"),
                api_key_id=bindparam("s_api_key_id"),
                end_user=bindparam("s_end_user"),
                created_at=bindparam("s_now"),
                updated_at=bindparam("s_now"),
            )
            .returning(SESSIONS.c.id)
            .cte("new_session")
        )
        session_id: Any = select(new.c.id).scalar_subquery()
        ctes.append(new)
    else:
        session_id = bindparam("s_id")
    messages = [
        {"session_id": session_id, "created_at": bindparam("s_now")}
        | {column: bindparam(f"m{i}_{column}") for column in _MESSAGE_COLUMNS}
        for i in range(rows)
    ]
    ctes.append(insert(MESSAGES).values(messages).cte("new_messages"))
    statement = usage.increment_statement("postgresql").add_cte(*ctes)
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))


def _write_in_one_statement(
    prepared: PreparedChat, rows: list[dict[str, Any]], counted: dict[str, Any], now: datetime
) -> None:
    params = dict(counted)
    params.update(
        s_client_id=prepared.client_id,
        s_session_key=prepared.session_key,
        s_api_key_id=prepared.api_key_id,
        s_end_user=prepared.end_user,
        s_id=prepared.session_id,
        s_now=now,
    )
    for i, row in enumerate(rows):
        params.update({f"m{i}_{column}": row[column] for column in _MESSAGE_COLUMNS})
    sql = _turn_sql(prepared.session_id is None, len(rows))
    if in_transaction():  # a caller's transaction (the console's sandbox), or the reads'
        db.session.connection().exec_driver_sql(sql, params)
        return
    execute_autocommit(sql, params)


def _write_in_one_transaction(
    prepared: PreparedChat, rows: list[dict[str, Any]], counted: dict[str, Any], now: datetime
) -> int:
    """The turn in one transaction; the id of its reply (the last row)."""
    connection = db.session.connection()
    session_id = prepared.session_id
    if session_id is None:
        statement = _new_session(prepared, now).returning(SESSIONS.c.id)
        session_id = connection.execute(statement).scalar_one()
    if rows[:-1]:
        connection.execute(
            insert(MESSAGES), [row | {"session_id": session_id} for row in rows[:-1]]
        )
    reply = insert(MESSAGES).values(rows[-1] | {"session_id": session_id})
    message_id: int = connection.execute(reply.returning(MESSAGES.c.id)).scalar_one()
    connection.execute(usage.increment_statement(connection.dialect.name), counted)
    return message_id
