"""The management API under ``/api/v1/``: JSON resources for what a customer manages,
authenticated by personal access tokens, each call one of the services the CLI and the
console use, with the object's account checked against the caller's memberships
(``app.services.access``).

Every route is declared with :func:`operation`, which records its bodies and answers so
that the OpenAPI document is generated from the same pydantic models
(``app.openapi.management`` reads the table, ``app.schemas.operations``)."""

from __future__ import annotations

from flask import Flask

from app.blueprints.management import routes  # noqa: F401  (declares the views)
from app.blueprints.management.common import bp
from app.extensions import csrf

__all__ = ["bp", "init_management"]


def init_management(app: Flask) -> None:
    """Register the API; it takes bearer tokens, never cookies, so no CSRF token."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
