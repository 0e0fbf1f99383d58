"""Request and response bodies of the chat API: the routes validate and answer with these
models, and the OpenAPI document's schemas are generated from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from app.schemas.chat_body import (
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


class StreamSession(BaseModel):
    """Data of the first event (``event: session``) of a native stream."""

    session_key: str
    client: str
    model: str


class StreamDelta(BaseModel):
    """Data of each unnamed event of a native stream: the next piece of the reply."""

    delta: str


class StreamDone(BaseModel):
    """Data of the last event (``event: done``) of a native stream."""

    reply: str = Field(description="The whole reply: the concatenated deltas.")
    finish_reason: str
    usage: Usage
    latency_ms: int


class CompletionChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    """OpenAI's ``chat.completion`` object; ``model`` is the client's model."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


# Only the fields set are sent (dumped with ``exclude_unset``): ``{}`` in the last chunk.
class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: str | None


class ChatCompletionChunk(BaseModel):
    """Data of each event of an OpenAI-compatible stream (OpenAI's chunk object)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = Field(
        default=None,
        description="Only in the extra last chunk sent with stream_options.include_usage.",
    )


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
