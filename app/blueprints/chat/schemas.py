"""Request and response schemas of the chat API (pydantic; also the OpenAPI source)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from app.blueprints.chat_body import (
    LAST_IS_USER,
    NO_NUL,
    SESSION_KEY_PATTERN,
    ChatBody,
    HistoryItem,
    Message,
)

# The native body's models are the chat API's too (the OpenAPI document names them here).
__all__ = [
    "LAST_IS_USER",
    "NO_NUL",
    "SESSION_KEY_PATTERN",
    "AssistantMessage",
    "ChatBody",
    "ChatReply",
    "ContentPart",
    "ErrorBody",
    "ErrorDetail",
    "HistoryItem",
    "Message",
    "OpenAIChatBody",
    "OpenAIMessage",
    "StreamOptions",
    "Usage",
]


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
