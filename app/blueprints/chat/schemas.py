"""Request and response schemas of the chat API (pydantic; also the OpenAPI source)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

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


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatReply(BaseModel):
    """A non-streamed answer. Pass ``session_key`` back to continue the conversation."""

    session_key: str
    client: str
    model: str
    message: AssistantMessage
    reply: str = Field(description="The same text as message.content, for convenience.")
    finish_reason: str
    usage: Usage
    latency_ms: int


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field validation problems, for invalid_request."
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: StrictStr = Field(pattern=NO_NUL)


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[StrictStr, Field(pattern=NO_NUL)] | list[ContentPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: StrictBool = False


class OpenAIChatBody(BaseModel):
    """``POST /v1/chat/completions``: the client's model is used whatever ``model`` says."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = None
    messages: list[OpenAIMessage] = Field(min_length=1, description=LAST_IS_USER)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=2)
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
