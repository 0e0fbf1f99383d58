"""The chat API: client hosts, /api/v0 paths and the OpenAI-compatible endpoint."""

from flask import Blueprint

bp = Blueprint("chat", __name__)

from app.blueprints.chat import routes  # noqa: E402,F401
