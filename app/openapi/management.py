"""The management API's part of the OpenAPI document, generated from the operation table
the routes declare next to themselves (``app.schemas.operations``, filled by
``app.blueprints.management.common.operation``: method,
rule, models, status, summary) and their pydantic models: nothing here is written as
JSON Schema by hand but the path and query parameters."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from app.openapi.common import ModelRefs, json_content, model_schemas, response_ref
from app.schemas.chat import ErrorBody
from app.schemas.management import Page
from app.schemas.operations import (
    DEFAULT_PER_PAGE,
    ID_MAX,
    MAX_PER_PAGE,
    OPERATIONS,
    Operation,
)

PREFIX = "/api/v1"
SECURITY_SCHEME = "PersonalAccessToken"
ERRORS: dict[str, tuple[str, str]] = {
    "400": ("ManagementBadRequest", "Invalid input: `invalid_request` names each bad field."),
    "401": (
        "ManagementUnauthorized",
        "No valid personal access token: `token_missing`, `token_invalid`, `token_revoked` "
        "or `token_expired`.",
    ),
    "403": (
        "ManagementForbidden",
        "Not allowed to the caller's role: `admin_only` (platform admins: approving plans, "
        "accounts), `forbidden` (owners: members).",
    ),
    "404": (
        "ManagementNotFound",
        "No such object, or one of an account the caller is not a member of (the same "
        "message for both).",
    ),
    "409": ("ManagementConflict", "The object's state refuses the change (the message says why)."),
    "503": (
        "ManagementUnavailable",
        "The job queue is unreachable (nothing was changed), or `database_busy`: the "
        "database is locked by another writer; retry after `Retry-After`.",
    ),
}
_PARAM = re.compile(r"<(?:(int):)?([a-z_]+)>")


def _page_of(model: type[BaseModel]) -> type[BaseModel]:
    # A generic parametrized at run time, which mypy cannot follow.
    return Page[model]  # type: ignore[valid-type]


def _answer_model(op: Operation) -> type[BaseModel] | None:
    if op.response is None:
        return None
    return _page_of(op.response) if op.paged else op.response


def _models() -> tuple[ModelRefs, dict[str, Any]]:
    bodies = [op.body for op in OPERATIONS if op.body is not None]
    answers = [model for op in OPERATIONS if (model := _answer_model(op)) is not None]
    return model_schemas(bodies, [ErrorBody, *answers])


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}
            if kind == "int"
            else {"type": "string"},
        }
        for kind, name in _PARAM.findall(op.rule)
    ]
    if op.paged:
        params += [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PER_PAGE,
                    "default": DEFAULT_PER_PAGE,
                },
            },
        ]
    if op.idempotent_create:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Kept 24 hours. A retry, or a concurrent request, with the "
                "same key and body gets the first answer (header `Idempotent-Replayed: "
                "true`, secrets left out) and creates nothing, waiting up to 10 s for a "
                "request still running (else 409 `idempotency_in_progress`, `Retry-After`); "
                "the same key with another body is 409 `idempotency_conflict`.",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    return params


def management_openapi() -> dict[str, Any]:
    """``{"paths", "schemas", "responses", "securitySchemes", "tag"}`` to merge."""
    refs, schemas = _models()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = PREFIX + _PARAM.sub(lambda m: "{" + m.group(2) + "}", op.rule)
        responses: dict[str, Any] = {
            status: response_ref(name) for status, (name, _) in ERRORS.items()
        }
        model = _answer_model(op)
        responses[str(op.status)] = {"description": op.summary}
        if model is not None:
            responses[str(op.status)]["content"] = json_content(refs[(model, "serialization")])
        operation: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": ["management"],
            "security": [{SECURITY_SCHEME: []}],
            "parameters": _parameters(op),
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": json_content(refs[(op.body, "validation")]),
            }
        paths.setdefault(path, {})[op.method] = operation
    error_ref = refs[(ErrorBody, "serialization")]
    return {
        "paths": paths,
        "schemas": schemas,
        "responses": {
            name: {"description": text, "content": json_content(error_ref)}
            for name, text in ERRORS.values()
        },
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal access token (`cdp_<token_id>_<secret>`), from "
                "`flask tokens create EMAIL` or the console's API tokens page; it acts as its "
                "user, with the user's role.",
            }
        },
        "tag": {
            "name": "management",
            "description": "Manage accounts, members, clients, API keys, domains and runs "
            "(`/api/v1/`): a member reaches only their accounts.",
        },
    }
