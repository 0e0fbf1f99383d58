"""Machine-readable description of the chat API: ``GET /api/openapi.json``."""

from __future__ import annotations

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from app.config import current_settings
from app.openapi import openapi_json

bp = Blueprint("api", __name__)


@bp.get("/api/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, built once per process from the pydantic models."""
    document = openapi_json(current_settings().CUSTOMER_API_DOMAIN)
    response = Response(document, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
