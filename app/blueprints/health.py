"""Liveness, readiness and metrics. Answer on any Host: probes use the pod's address."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.config import current_settings
from app.extensions import db
from app.metrics import render_latest

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up; no dependency is checked (that is /readyz)."""
    return jsonify(status="ok")


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        db.session.rollback()
        return type(exc).__name__


def _check_redis(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return type(exc).__name__


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready to serve: the database answers, and Redis when it is configured."""
    checks = {"database": _check_database()}
    redis_url = current_settings().REDIS_URL
    if redis_url:
        checks["redis"] = _check_redis(redis_url)
    ready = all(v is None for v in checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {k: "ok" if v is None else f"failed: {v}" for k, v in checks.items()},
    }
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    payload, content_type = render_latest()
    return Response(payload, content_type=content_type)
