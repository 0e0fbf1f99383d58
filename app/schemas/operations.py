"""The management API's operation table: each route as the OpenAPI document describes
it, appended by ``app.blueprints.management.common.operation`` where the route is
declared, read by ``app.openapi.management``."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
ID_MAX = 2**31 - 1  # ids are 32-bit in every database: larger ones are simply not found


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
