"""A client's conversations as the console shows them: recent sessions, and one
session's turns with the tool calls under each reply."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.models import ChatMessage, ChatSession, ToolCallRecord

RECENT_SESSIONS = 50


@dataclass
class Turn:
    message: ChatMessage
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


def recent_sessions(client_id: int) -> list[tuple[ChatSession, int]]:
    """The client's latest sessions, newest first, with their message counts."""
    counts = (
        select(ChatMessage.session_id, func.count().label("n"))
        .group_by(ChatMessage.session_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ChatSession, counts.c.n)
        .join(counts, counts.c.session_id == ChatSession.id)
        .where(ChatSession.client_id == client_id)
        .order_by(ChatSession.updated_at.desc(), ChatSession.id.desc())
        .limit(RECENT_SESSIONS)
    ).all()
    return [(session, int(n)) for session, n in rows]


def session_turns(session: ChatSession) -> list[Turn]:
    """Every message of the session; each reply with the tool calls that led to it."""
    calls: dict[int, list[ToolCallRecord]] = defaultdict(list)
    for call in db.session.execute(
        select(ToolCallRecord)
        .join(ChatMessage, ChatMessage.id == ToolCallRecord.message_id)
        .where(ChatMessage.session_id == session.id)
        .order_by(ToolCallRecord.id)
    ).scalars():
        calls[call.message_id].append(call)
    return [Turn(message, calls.get(message.id, [])) for message in session.messages]
