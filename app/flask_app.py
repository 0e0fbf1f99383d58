"""chatdock's Flask class: two of Flask's documented extension points answered once per
process instead of on every request (the chat API's hot path, measured in-process).

- ``ensure_sync``: Flask asks it of every hook and view on every request (seventeen a
  chat call) and the answer, whether the function is a coroutine, never changes; the
  question cost about 2% of a chat's CPU.
- The session cookie's interface: Flask's builds its signing serializer on every
  request, before it looks for a cookie; the chat API's callers never send one.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie gets an empty
    session without a serializer being built (one is built to save it, if it changes),
    and without its Cookie header parsed: the name not in the raw header says enough."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.environ.get(
            "HTTP_COOKIE", ""
        ):
            return self.session_class()
        return super().open_session(app, request)


class ChatdockFlask(Flask):
    session_interface = CookieSessionInterface()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._made_sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, kept for plain functions and methods (the hooks and views
        registered once); anything else (a partial made per call) is asked each time."""
        if not isinstance(func, types.FunctionType | types.MethodType):
            return super().ensure_sync(func)
        made = self._made_sync.get(func)
        if made is None:
            made = self._made_sync[func] = super().ensure_sync(func)
        return made
