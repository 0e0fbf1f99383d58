"""The management API under ``/api/v1/``: JSON resources for what a customer manages,
authenticated by personal access tokens, each call one of the services the CLI and the
console use, with the object's account checked against the caller's memberships
(``app.services.access``).

Every route is declared with :func:`operation`, which records its bodies and answers so
that the OpenAPI document is generated from the same pydantic models
(``app.openapi.management``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.models import AdminUser, IdempotentRequest
from app.names import is_ascii_digits
from app.services import audit, tokens

bp = Blueprint("management", __name__, url_prefix="/api/v1")
Body = TypeVar("Body", bound=BaseModel)
MAX_PER_PAGE = 200
SECRET_FIELDS = frozenset({"key", "accept_url"})  # answered once, never stored
ID_MAX = 2**31 - 1  # ids are 32-bit in every database: larger ones are simply not found
DEFAULT_PER_PAGE = 50


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    rule: str
    endpoint: str
    summary: str
    response: type[BaseModel] | None
    status: int
    body: type[BaseModel] | None
    paged: bool
    idempotent_create: bool
    admin_only: bool
    errors: tuple[int, ...] = field(default=())


OPERATIONS: list[Operation] = []


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
    g.api_user = tokens.authenticate(raw if scheme.lower() == "bearer" else None)
    audit.set_request_actor(audit.Actor("api", g.api_user.email, "api", request.remote_addr))


def caller() -> AdminUser:
    return g.api_user


def who() -> str:
    """``requested_by`` of the runs the caller starts."""
    return f"api:{caller().email}"


def parse_body(model: type[Body]) -> Body:
    """The JSON body as ``model``, or a 400 naming every bad field."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInput(
            problems,
            details=exc.errors(include_url=False, include_context=False, include_input=False),
        ) from None


def _int_arg(name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not is_ascii_digits(raw) or not lowest <= int(raw) <= highest:
        raise InvalidInput(f"{name} must be an integer from {lowest} to {highest}")
    return int(raw)


def page_of(items: Sequence[Any], render: Callable[[Any], BaseModel]) -> Response:
    """A page of ``items`` as ``{"items", "page", "per_page", "total"}``."""
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    start = (page - 1) * per_page
    return jsonify(
        {
            "items": [
                render(item).model_dump(mode="json") for item in items[start : start + per_page]
            ],
            "page": page,
            "per_page": per_page,
            "total": len(items),
        }
    )


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


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """``Idempotency-Key`` on a creating POST: a retry with the same key and body gets
    the first answer again and creates nothing; the same key with another body is 409."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 255:
            raise InvalidInput("Idempotency-Key must be at most 255 characters")
        user = caller()
        seen = db.session.execute(
            select(IdempotentRequest).where(
                IdempotentRequest.user_id == user.id, IdempotentRequest.key == key
            )
        ).scalar_one_or_none()
        if seen is not None:
            if seen.fingerprint != _fingerprint():
                raise Conflict(
                    "this Idempotency-Key was used for another request", code="idempotency_conflict"
                )
            response = jsonify(json.loads(seen.body))
            response.status_code = seen.status
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = view(*args, **kwargs)
        if 200 <= response.status_code < 300:
            db.session.add(
                IdempotentRequest(
                    user_id=user.id,
                    key=key,
                    fingerprint=_fingerprint(),
                    status=response.status_code,
                    body=json.dumps(_without_secret(response.get_json())),
                )
            )
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
        return response

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def init_management(app: Flask) -> None:
    from app.blueprints.management import routes  # noqa: F401  (register the views)
    from app.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
