"""The probes' answers (``/healthz``, ``/readyz``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="Per dependency: 'ok' or 'failed: <error type>'. 'redis' only when "
        "REDIS_URL is set."
    )
