"""The chat API: client hosts, /api/v0 paths and the OpenAI-compatible endpoint."""

from app.blueprints.chat import routes  # noqa: F401  (declares the views)
from app.blueprints.chat.blueprint import bp

__all__ = ["bp"]
