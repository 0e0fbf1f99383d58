"""Keep an extension's per-request hooks off the requests that do not need them.

Flask extensions register their hooks app-wide (``before_request``, ``after_request``,
``teardown_request``), so every chat call ran Flask-Limiter's three (which only skip the
chat after building their context) and Talisman's three (a CSP nonce and a document's
headers on a JSON answer): together about a tenth of a chat's CPU in the app; CSRFProtect
and Flask-Login (a remember cookie) add one each. Running an
extension's ``init_app`` through :func:`init_app_outside` wraps the hooks it added, in
Flask's public hook registries, so that they step aside when ``skipped()`` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

Hook = Callable[..., Any]


def init_app_outside(app: Flask, init_app: Callable[[], None], skipped: Callable[[], bool]) -> None:
    """Run ``init_app``; the request hooks it registered on ``app`` do nothing for the
    requests where ``skipped()`` is true."""
    registries: dict[str, dict[Any, list[Any]]] = {
        "before": app.before_request_funcs,
        "after": app.after_request_funcs,
        "teardown": app.teardown_request_funcs,
    }
    existing = {kind: list(hooks.get(None, ())) for kind, hooks in registries.items()}
    init_app()
    for kind, hooks in registries.items():
        app_wide = hooks.get(None, [])
        for position, hook in enumerate(app_wide):
            if hook not in existing[kind]:
                app_wide[position] = _stepping_aside(kind, hook, skipped)


def _stepping_aside(kind: str, hook: Hook, skipped: Callable[[], bool]) -> Hook:
    if kind == "after":

        def after(response: Any) -> Any:
            return response if skipped() else hook(response)

        return after

    def before_or_teardown(*args: Any) -> Any:
        return None if skipped() else hook(*args)  # a before hook may answer instead

    return before_or_teardown
