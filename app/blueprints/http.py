"""HTTP helpers the blueprints share (so none imports another's routes): a JSON body
read and validated against a pydantic schema, and a Server-Sent Events response."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from flask import Response, current_app, g, request, stream_with_context
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from app.errors import InvalidInput
from app.extensions import db
from app.llm.base import ProviderError
from app.logging_setup import get_logger
from app.services.chat_stream import sse

Schema = TypeVar("Schema", bound=BaseModel)
BODY_KEY = "chatdock.body"  # the body once read (read_body)
log = get_logger("chatdock.chat")


def read_body() -> bytes:
    """The raw body, refused with 413 past MAX_CONTENT_LENGTH, chunked bodies included;
    kept in the request's environ for a view that runs again (a chat routed again on a
    fresh index; not on ``g``, which requests share inside a test's app context).

    Without a Content-Length, werkzeug's stream stops quietly at the limit (the body
    looks merely truncated), so read one byte past it to tell "too large" apart."""
    body: bytes | None = request.environ.get(BODY_KEY)
    if body is not None:
        return body
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        body = request.get_data(cache=False)  # a declared length over the limit is a 413
    else:
        body = get_input_stream(request.environ, max_content_length=limit + 1).read()
        if len(body) > limit:
            raise RequestEntityTooLarge()
    request.environ[BODY_KEY] = body
    return body


def parse_body(schema: type[Schema]) -> Schema:
    """Validate the raw body; invalid JSON and wrong shapes are one clear 400."""
    return validate_json(schema, read_body())


def validate_json(schema: type[Schema], data: bytes) -> Schema:
    """``data`` as ``schema``, or one clear 400: not JSON, nested too deeply (pydantic's
    parser stops at a fixed depth, where ``json.loads`` would raise RecursionError), not
    an object, or naming every bad field. Every JSON body is read through here."""
    if not data:
        raise InvalidInput("the request body must be a JSON object", code="invalid_json")
    try:
        return schema.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        first = errors[0] if errors else None
        if first is not None and first["type"] == "json_invalid":
            reason = str(first["msg"]).removeprefix("Invalid JSON: ")
            if "recursion limit" in reason:
                reason = "nested too deeply"
            raise InvalidInput(
                f"the request body is not valid JSON: {reason}", code="invalid_json"
            ) from None
        if first is not None and first["type"] == "model_type" and not first["loc"]:
            raise InvalidInput("the request body must be a JSON object") from None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in errors
        )
        raise InvalidInput(problems, details=errors) from None


def sse_response(events: Iterator[str]) -> Response:
    """Stream ``events``; a failure once the 200 went out ends the stream with an
    ``error`` event (the provider's code, or ``internal_error`` with the request id)."""

    def guarded() -> Iterator[str]:
        try:
            yield from events
        except ProviderError as error:
            yield sse("error", {"error": {"code": error.code, "message": error.message}})
        except Exception as error:  # the 200 has been sent: end the stream with an event
            db.session.rollback()
            log.exception("stream_failed", error_type=type(error).__name__)
            message = f"internal error (request id {g.get('request_id', '-')})"
            yield sse("error", {"error": {"code": "internal_error", "message": message}})

    response = Response(stream_with_context(guarded()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
