"""What every management route uses: the blueprint, :func:`operation` (a route and its
description for the OpenAPI document), the caller (a personal access token), bodies,
pages read in SQL, and ``Idempotency-Key`` on creating POSTs."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel

from app.blueprints.http import validate_json
from app.errors import Conflict, InvalidInput
from app.models import AdminUser
from app.names import is_ascii_digits
from app.schemas.operations import (
    DEFAULT_PER_PAGE,
    ID_MAX,
    MAX_PER_PAGE,
    OPERATIONS,
    Operation,
)
from app.services import audit, idempotency, paging, tokens

bp = Blueprint("management", "app.blueprints.management", url_prefix="/api/v1")
Body = TypeVar("Body", bound=BaseModel)
SECRET_FIELDS = frozenset({"key", "accept_url"})  # answered once, never stored
IDEMPOTENCY_WAIT_SECONDS = 10.0  # then 409 idempotency_in_progress, Retry-After: 1
IDEMPOTENCY_POLL_SECONDS = 0.05


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    response: type[BaseModel] | None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    paged: bool = False,
    creates: bool = False,
    admin_only: bool = False,
    errors: Sequence[int] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on the blueprint and its description for the document."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        view = idempotent(view) if creates else view
        bounded = rule.replace("<int:", f"<int(min=1, max={ID_MAX}):")
        bp.add_url_rule(bounded, endpoint=view.__name__, view_func=view, methods=[method])
        OPERATIONS.append(
            Operation(
                method.lower(),
                rule,
                view.__name__,
                summary,
                response,
                status,
                body,
                paged,
                creates,
                admin_only,
                tuple(errors),
            )
        )
        return view

    return register


@bp.before_request
def _authenticate() -> None:
    """Every route needs a valid personal access token: ``Authorization: Bearer cdp_...``."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = tokens.authenticate(raw if scheme.lower() == "bearer" else None)
    g.api_user = token.user
    audit.set_request_actor(
        audit.Actor(
            "token", f"{token.user.email} (token {token.token_id})", "api", request.remote_addr
        )
    )


def caller() -> AdminUser:
    return g.api_user


def who() -> str:
    """``requested_by`` of the runs the caller starts."""
    return f"api:{caller().email}"


def parse_body(model: type[Body]) -> Body:
    """The JSON body as ``model``, or a 400 naming every bad field (the shared parser:
    invalid or too deeply nested JSON is one clear 400, never a 500)."""
    return validate_json(model, request.get_data())  # cached: the Idempotency-Key hashes it


def _int_arg(name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not is_ascii_digits(raw) or not lowest <= int(raw) <= highest:
        raise InvalidInput(f"{name} must be an integer from {lowest} to {highest}")
    return int(raw)


def current_page(query: paging.AnySelect) -> paging.Page:
    """The page of ``query`` that ``?page=`` and ``?per_page=`` ask for, read in SQL."""
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return paging.page_of(query, page, per_page)


def page_answer(page: paging.Page, render: Callable[[Any], BaseModel]) -> Response:
    """A page as ``{"items", "page", "per_page", "total"}``."""
    return jsonify(
        {
            "items": [render(item).model_dump(mode="json") for item in page.items],
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
        }
    )


def page_of(query: paging.AnySelect, render: Callable[[Any], BaseModel]) -> Response:
    """The asked-for page of ``query``, each row rendered by ``render``."""
    return page_answer(current_page(query), render)


def answer(model: BaseModel, status: int = 200) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def _fingerprint() -> str:
    return hashlib.sha256(
        b"\0".join([request.method.encode(), request.path.encode(), request.get_data()])
    ).hexdigest()


def _without_secret(body: Any) -> Any:
    """A stored answer never keeps a secret: a replay of a key's creation has no key."""
    if isinstance(body, dict):
        return {k: None if k in SECRET_FIELDS else v for k, v in body.items()}
    return body


def _replay(record: idempotency.Stored) -> Response:
    response = jsonify(json.loads(record.body))
    response.status_code = record.status
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _run_claimed(user_id: int, key: str, view: Callable[[], Response]) -> Response:
    """Run the view for the claimed key; keep a success's answer, give the key up else."""
    try:
        response = view()
    except BaseException:
        idempotency.release(user_id, key)
        raise
    if 200 <= response.status_code < 300:
        body = json.dumps(_without_secret(response.get_json()))
        idempotency.finish(user_id, key, response.status_code, body)
    else:
        idempotency.release(user_id, key)
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """``Idempotency-Key`` on a creating POST: of several requests with the same key and
    body (at once or retried within 24 h) one runs; the others wait (at most
    IDEMPOTENCY_WAIT_SECONDS) for its answer and get it again, creating nothing. The same
    key with another body is 409."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 255:
            raise InvalidInput("Idempotency-Key must be at most 255 characters")
        user_id, fingerprint = caller().id, _fingerprint()
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            if idempotency.claim(user_id, key, fingerprint):
                return _run_claimed(user_id, key, lambda: view(*args, **kwargs))
            record = idempotency.stored(user_id, key)
            if record is not None and record.fingerprint != fingerprint:
                raise Conflict(
                    "this Idempotency-Key was used for another request", code="idempotency_conflict"
                )
            if record is not None and record.finished:
                return _replay(record)
            if time.monotonic() >= deadline:
                raise Conflict(
                    "a request with this Idempotency-Key is still running: retry shortly",
                    code="idempotency_in_progress",
                    headers={"Retry-After": "1"},
                )
            time.sleep(IDEMPOTENCY_POLL_SECONDS)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper
