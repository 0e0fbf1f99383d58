"""The native chat body: what ``POST /llm-client/`` and ``/api/v0/llm-clients/<id>/<name>/``
accept, and the console sandbox too (it chats through the same service). Outside both
blueprints, so neither imports the other; ``app.schemas.chat`` lists it with
the chat API's other schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

SESSION_KEY_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
# Text may hold anything but NUL, which PostgreSQL text cannot store.
NO_NUL = r"^[^\x00]*$"
# JSON Schema cannot constrain an array's last item, so the document says it in words.
LAST_IS_USER = (
    "The new turns, oldest first. The last one must have role `user`: the server refuses "
    "anything else with 400 `invalid_messages`."
)


class Message(BaseModel):
    """One turn. ``system`` turns add to the client's own system prompt."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant", "system"]
    content: StrictStr = Field(min_length=1, pattern=NO_NUL)


class HistoryItem(BaseModel):
    """A chat-UI message (chatscope's MessageModel): ``outgoing`` was sent by the user,
    ``incoming`` was received from the bot."""

    model_config = ConfigDict(extra="ignore")

    message: StrictStr = Field(min_length=1, pattern=NO_NUL)
    direction: Literal["incoming", "outgoing"]
    sentTime: StrictStr | None = None
    sender: StrictStr | None = None


class ChatBody(BaseModel):
    """``POST /llm-client/`` and ``POST /api/v0/llm-clients/<id>/<name>/``."""

    model_config = ConfigDict(extra="ignore")

    messages: list[Message] = Field(min_length=1, description=LAST_IS_USER)
    prompt_history: list[HistoryItem] = Field(default_factory=list)
    session_key: StrictStr | None = Field(default=None, pattern=SESSION_KEY_PATTERN)
    stream: StrictBool = False
