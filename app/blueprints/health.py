"""Liveness, readiness and metrics. Answer on any Host: probes use the pod's address."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.config import Settings, current_settings
from app.extensions import db
from app.metrics import render_latest
from app.queue import redis_connection
from app.schemas.health import Health, Readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up; no dependency is checked (that is /readyz)."""
    return jsonify(Health(status="ok").model_dump())


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        db.session.rollback()
        return type(exc).__name__


def _check_redis(settings: Settings) -> str | None:
    """PING on the process's shared client (its timeouts bound the probe)."""
    try:
        redis_connection(settings).ping()
        return None
    except Exception as exc:
        return type(exc).__name__


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready to serve: the database answers, and Redis when it is configured."""
    checks = {"database": _check_database()}
    settings = current_settings()
    if settings.REDIS_URL:
        checks["redis"] = _check_redis(settings)
    ready = all(v is None for v in checks.values())
    body = Readiness(
        status="ready" if ready else "not_ready",
        checks={k: "ok" if v is None else f"failed: {v}" for k, v in checks.items()},
    )
    return jsonify(body.model_dump()), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    payload, content_type = render_latest()
    return Response(payload, content_type=content_type)
