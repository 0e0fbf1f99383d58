"""The baseline of ``upstream_concurrency.py``: the least a Python proxy in front of the
model does, under the same gunicorn settings as chatdock (``gunicorn.conf.py``).

It forwards the chat's messages to the mock model and relays the answer as it comes:
the JSON body as is, or each chunk of the event stream as it arrives. No database, no
hooks, no validation, urllib3's pool (O(1) per request) under gevent's sockets. What
chatdock achieves against what this achieves on the same machine, in the same run, is
what chatdock's own work costs at that load; the machine's speed of the moment, which
drifts here, divides out. Served as ``bare_proxy:app`` (gunicorn ``--chdir bench``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import urllib3
from flask import Flask, Response, request

UPSTREAM = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions"
HEADERS = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"}
# As many kept-alive connections as a worker holds requests (WORKER_CONNECTIONS).
http = urllib3.PoolManager(
    maxsize=1000, block=False, retries=False, timeout=urllib3.Timeout(connect=5, read=120)
)
app = Flask(__name__)


@app.post("/api/v0/llm-clients/<int:client_id>/<name>/")
def chat(client_id: int, name: str) -> Response:
    body = request.get_json()
    stream = bool(body.get("stream"))
    upstream = http.request(
        "POST",
        UPSTREAM,
        json={"model": "mock", "messages": body["messages"], "stream": stream},
        headers=HEADERS,
        preload_content=not stream,
    )
    if not stream:
        return Response(upstream.data, status=upstream.status, mimetype="application/json")

    def relay() -> Iterator[bytes]:
        try:
            yield from upstream.stream(None)  # chunked: each chunk as it arrives
        finally:
            upstream.release_conn()

    return Response(relay(), status=upstream.status, mimetype="text/event-stream")
