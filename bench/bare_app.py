"""The baseline of ``chat_overhead.py``: a bare Flask app with the chat endpoint's shape.

It parses the JSON body and answers a JSON object of about the same size as the real
chat reply, with no database, hooks or validation, so the difference to the real app
is what chatdock itself adds per request. Served by gunicorn as ``bare_app:app``.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/llm-client/")
def chat() -> Response:
    body = request.get_json()
    content = body["messages"][-1]["content"]
    reply = f"echo: {content}"
    words = len(content.split())
    return jsonify(
        session_key=secrets.token_urlsafe(24),
        client="bot-0",
        model="echo-1",
        message={"role": "assistant", "content": reply},
        reply=reply,
        finish_reason="stop",
        usage={"prompt_tokens": words, "completion_tokens": words + 1, "total_tokens": 2 * words},
        latency_ms=0,
    )
