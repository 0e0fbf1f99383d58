"""The chat API: client hosts, /api/v0 paths and the OpenAI-compatible endpoint."""

from app.blueprints.chat import routes, widget  # noqa: F401  (declare the views)
from app.blueprints.chat.blueprint import bp

__all__ = ["bp"]
