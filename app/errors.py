"""Errors with a status, a stable code and a message safe to show to the caller.

Services raise these; the JSON error handlers and the CLI turn them into the chat
contract's ``{"error": {"code", "message"}}`` body or a non-zero exit with the message.
"""

from __future__ import annotations

from typing import Any


class ChatdockError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(ChatdockError):
    status, code = 400, "invalid_request"


class Unauthorized(ChatdockError):
    status, code = 401, "unauthorized"


class Forbidden(ChatdockError):
    status, code = 403, "forbidden"


class NotFound(ChatdockError):
    status, code = 404, "not_found"


class Conflict(ChatdockError):
    status, code = 409, "conflict"
