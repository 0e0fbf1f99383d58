"""Sandbox: chat with any client from the console, deployed or not, streamed.

The page posts to a console endpoint (session and CSRF token, never an API key) that
takes the chat API's native body, runs the same chat service and answers with the same
SSE stream (``app.services.chat_stream``)."""

from __future__ import annotations

from flask import g, render_template
from flask.typing import ResponseReturnValue

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import get_or_404
from app.blueprints.http import parse_body, sse_response
from app.errors import NotFound
from app.llm.base import ChatTurn
from app.models import LlmClient
from app.schemas.chat_body import ChatBody
from app.services import chat, chat_stream


@bp.get("/clients/<int:client_id>/sandbox")
def sandbox(client_id: int) -> ResponseReturnValue:
    return render_template("admin/sandbox.html", client=get_or_404(LlmClient, client_id))


@bp.post("/clients/<int:client_id>/sandbox/chat")
def sandbox_chat(client_id: int) -> ResponseReturnValue:
    get_or_404(LlmClient, client_id)
    route = g.host_index.by_id.get(client_id)
    if route is None:  # created a moment ago in another process: index not rebuilt yet
        raise NotFound("this client is not in the host index yet; reload the page")
    body = parse_body(ChatBody)
    prepared = chat.prepare_chat(
        chat.load_client(route),
        messages=[ChatTurn(role=m.role, content=m.content) for m in body.messages],
        prompt_history=[],
        session_key=body.session_key,
        api_key=None,
    )
    return sse_response(chat_stream.native_events(prepared, route="sandbox"))
