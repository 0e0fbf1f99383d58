"""The OpenAPI 3.1 document served at ``GET /api/openapi.json``: the chat API
(``chat``) and the management API (``management``), each an operation table over the
pydantic models its routes use, which give every schema. The document depends only on
the code and ``CUSTOMER_API_DOMAIN`` (the client-host server), so it is built once per
process (per domain) and cached."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from app.openapi.chat import (
    CHAT_ERROR_STATUSES,
    CHAT_PATHS,
    CLIENT_HOST_PATHS,
    OPENAI_BY_ID_PATH,
    OPENAI_PATH,
    chat_document,
)
from app.openapi.common import REF_TEMPLATE
from app.openapi.management import management_openapi

__all__ = [
    "CHAT_ERROR_STATUSES",
    "CHAT_PATHS",
    "CLIENT_HOST_PATHS",
    "OPENAI_BY_ID_PATH",
    "OPENAI_PATH",
    "REF_TEMPLATE",
    "build_openapi",
    "openapi_document",
    "openapi_json",
]


def build_openapi(customer_api_domain: str = "api.localhost") -> dict[str, Any]:
    """Build the document (uncached; see :func:`openapi_document`): the chat API's, with
    the management API's paths and components added (a component both define differently
    is a bug)."""
    document = copy.deepcopy(chat_document(customer_api_domain))
    management = management_openapi()
    components = document["components"]
    for part in ("schemas", "responses", "securitySchemes"):
        clash = {
            n
            for n in set(components[part]) & set(management[part])
            if components[part][n] != management[part][n]
        }
        assert not clash, f"management {part} clash with the chat API's: {clash}"
        components[part].update(management[part])
    document["paths"].update(management["paths"])
    document["tags"].append(management["tag"])
    document["info"]["title"] = "chatdock API"
    return document


@lru_cache(maxsize=4)
def _document_json(customer_api_domain: str) -> str:
    return json.dumps(build_openapi(customer_api_domain), separators=(",", ":"))


@lru_cache(maxsize=4)
def _document(customer_api_domain: str) -> dict[str, Any]:
    return json.loads(_document_json(customer_api_domain))


def openapi_json(customer_api_domain: str) -> str:
    """The document as compact JSON, built once per process (per domain)."""
    return _document_json(customer_api_domain)


def openapi_document(customer_api_domain: str) -> dict[str, Any]:
    """A copy of the cached document, safe to modify."""
    return copy.deepcopy(_document(customer_api_domain))
