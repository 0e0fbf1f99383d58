"""Local HTTP servers speaking the OpenAI and Anthropic wire formats.

The adapters are tested through the real SDKs against these servers, so the tests see
what the SDK actually sends (headers, JSON body) and how it parses real responses,
including SSE streams, error statuses, slow answers and dropped connections.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Flavor = Literal["openai", "anthropic"]
# One SSE frame: event name (None for data-only frames), data, and whether it carries text.
Frame = tuple[str | None, str, bool]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class Behaviour:
    """What the server answers; tests tweak it before calling the adapter."""

    text: str = "Hello there, friend."
    status: int = 200
    finish: str = "stop"  # openai finish_reason, or anthropic stop_reason
    prompt_tokens: int = 11
    completion_tokens: int = 5
    delay: float = 0.0  # seconds before the response headers
    pause_after_first_delta: float = 0.0  # seconds of silence mid-stream
    raw_body: bytes | None = None  # sent verbatim (status 200) instead of a real reply
    raw_content_type: str = "application/json"
    usage_in_stream: bool = True
    delta_interval: float = 0.0  # seconds between streamed deltas
    gather: int = 0  # hold every request until this many are in flight at once
    gather_timeout: float = 120.0  # then answer 503 saying how many came
    # Tool calls per round (a round = the tool results the request already holds):
    # round i answers with the calls tool_script[i] [(name, arguments)], later rounds
    # with text; tool_repeat: the last entry again every round (a model that never stops).
    tool_script: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=list)
    tool_repeat: bool = False


def split_deltas(text: str) -> list[str]:
    """How the fake provider chunks a reply: a word with the whitespace before it."""
    return re.findall(r"\s*\S+", text) or [text]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048  # hundreds of connections may arrive at once
    wire: WireServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up on purpose (timeouts) is expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_POST(self) -> None:
        wire = self.server.wire
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with wire.lock:
            wire.requests.append(
                RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
        b = wire.behaviour
        if b.delay and wire.stopping.wait(b.delay):
            return
        if b.gather and not wire.gathered():
            self._send_json(503, {"error": {"message": f"only {wire.peak} requests came"}})
            return
        if self.path != wire.expected_path:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
        elif b.status != 200:
            self._send_json(b.status, wire.error_body(self.headers, b.status))
        elif b.raw_body is not None:
            self._send(200, b.raw_body, b.raw_content_type)
        elif isinstance(body, dict) and body.get("stream"):
            self._send_stream(wire.stream_events(body))
        else:
            self._send_json(200, wire.reply(body))

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _send_stream(self, frames: list[Frame]) -> None:
        wire = self.server.wire
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # body ends at EOF
        self.end_headers()
        self.close_connection = True
        deltas_sent = 0
        for event, data, is_delta in frames:
            text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
            try:
                self.wfile.write(text.encode())
                self.wfile.flush()
            except OSError:  # the caller closed the stream: what the tests look for
                with wire.lock:
                    wire.hangups += 1
                return
            if is_delta:
                deltas_sent += 1
                if wire.behaviour.delta_interval and wire.stopping.wait(
                    wire.behaviour.delta_interval
                ):
                    return
                pause = wire.behaviour.pause_after_first_delta
                if deltas_sent == 1 and pause and wire.stopping.wait(pause):
                    return


class WireServer:
    """A fake provider on 127.0.0.1 (free port), recording every request."""

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self.behaviour = Behaviour(finish="stop" if flavor == "openai" else "end_turn")
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.hangups = 0  # streams whose caller went away before the end
        self.peak = 0  # most requests held at once while gathering
        self._arrived = threading.Condition(self.lock)
        self._waiting = 0
        self.on_gathered: Callable[[], None] | None = None  # runs once all are held
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.wire = self
        # A short poll interval keeps shutdown() (hence each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What the adapter's base_url setting would be for this server."""
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.flavor == "openai" else root

    @property
    def expected_path(self) -> str:
        return "/v1/chat/completions" if self.flavor == "openai" else "/v1/messages"

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "the server got no request"
        return self.requests[-1]

    def gathered(self) -> bool:
        """Hold this request until ``behaviour.gather`` requests are held together (the
        proof that the caller really has them in flight at once); False on time-out."""
        with self._arrived:
            self._waiting += 1
            self.peak = max(self.peak, self._waiting)
            if self._waiting == self.behaviour.gather:
                if self.on_gathered is not None:
                    self.on_gathered()
                self._arrived.notify_all()
            ok = self._arrived.wait_for(
                lambda: self.peak >= self.behaviour.gather, timeout=self.behaviour.gather_timeout
            )
            self._waiting -= 1
            return ok

    def start(self) -> WireServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers sleeping in delay/pause
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- response bodies -------------------------------------------------------------

    def error_body(self, headers: Any, status: int) -> dict[str, Any]:
        """Like real providers, echo (part of) the presented key back in the error text."""
        presented = headers.get("Authorization") or headers.get("x-api-key") or ""
        message = f"Incorrect API key provided: {presented}"
        if self.flavor == "openai":
            return {"error": {"message": message, "type": "error", "code": str(status)}}
        return {"type": "error", "error": {"type": "api_error", "message": message}}

    def tool_round(self, body: dict[str, Any]) -> int:
        """How many tool rounds the request already holds (assistant turns with calls)."""
        turns = body.get("messages") or []
        if self.flavor == "openai":
            return sum(1 for m in turns if m.get("role") == "assistant" and m.get("tool_calls"))
        return sum(
            1
            for m in turns
            if m.get("role") == "assistant"
            and isinstance(m.get("content"), list)
            and any(block.get("type") == "tool_use" for block in m["content"])
        )

    def calls_for(self, body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, name, arguments) of the calls this request is answered with, if any."""
        script = self.behaviour.tool_script
        if not script or not body.get("tools"):
            return []
        number = self.tool_round(body)
        if number >= len(script):
            if not self.behaviour.tool_repeat:
                return []
            number = len(script) - 1
        round_id = self.tool_round(body)
        return [(f"call_{round_id}_{i}", n, a) for i, (n, a) in enumerate(script[number])]

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self.behaviour
        model = body.get("model", "unknown")
        calls = self.calls_for(body)
        if calls and self.flavor == "openai":
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": i,
                        "type": "function",
                        "function": {"name": n, "arguments": json.dumps(a)},
                    }
                    for i, n, a in calls
                ],
            }
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": {
                    "prompt_tokens": b.prompt_tokens,
                    "completion_tokens": b.completion_tokens,
                    "total_tokens": b.prompt_tokens + b.completion_tokens,
                },
            }
        if calls:
            return {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [
                    {"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": b.prompt_tokens, "output_tokens": b.completion_tokens},
            }
        if self.flavor == "openai":
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": b.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": b.finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": b.prompt_tokens,
                    "completion_tokens": b.completion_tokens,
                    "total_tokens": b.prompt_tokens + b.completion_tokens,
                },
            }
        return {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": b.text}] if b.text else [],
            "stop_reason": b.finish,
            "stop_sequence": None,
            "usage": {"input_tokens": b.prompt_tokens, "output_tokens": b.completion_tokens},
        }

    def stream_events(self, body: dict[str, Any]) -> list[Frame]:
        """The SSE frames (event name, data) of a streamed reply."""
        b = self.behaviour
        model = body.get("model", "unknown")
        deltas = split_deltas(b.text) if b.text else []
        if self.flavor == "openai":

            def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
                return json.dumps(
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": 1_700_000_000,
                        "model": model,
                        "choices": [
                            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                        ],
                        "usage": None,
                    }
                )

            frames: list[Frame] = [(None, chunk({"role": "assistant"}), False)]
            calls = self.calls_for(body)
            if calls:
                for index, (call_id, name, arguments) in enumerate(calls):
                    head = {"index": index, "id": call_id, "type": "function"}
                    head["function"] = {"name": name, "arguments": ""}
                    frames.append((None, chunk({"tool_calls": [head]}), False))
                    text = json.dumps(arguments)
                    for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                        part = {"index": index, "function": {"arguments": piece}}
                        frames.append((None, chunk({"tool_calls": [part]}), False))
                frames.append((None, chunk({}, "tool_calls"), False))
            else:
                frames += [(None, chunk({"content": d}), True) for d in deltas]
                frames.append((None, chunk({}, b.finish), False))
            include_usage = (body.get("stream_options") or {}).get("include_usage")
            if b.usage_in_stream and include_usage:
                usage_chunk = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": b.prompt_tokens,
                        "completion_tokens": b.completion_tokens,
                        "total_tokens": b.prompt_tokens + b.completion_tokens,
                    },
                }
                frames.append((None, json.dumps(usage_chunk), False))
            frames.append((None, "[DONE]", False))
            return frames

        def event(name: str, data: dict[str, Any], is_delta: bool = False) -> Frame:
            return name, json.dumps({"type": name, **data}), is_delta

        message = {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": b.prompt_tokens, "output_tokens": 1},
        }
        calls = self.calls_for(body)
        if calls:
            frames = [event("message_start", {"message": message})]
            for index, (call_id, name, arguments) in enumerate(calls):
                block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
                text = json.dumps(arguments)
                frames.append(
                    event("content_block_start", {"index": index, "content_block": block})
                )
                for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    frames.append(event("content_block_delta", {"index": index, "delta": delta}))
                frames.append(event("content_block_stop", {"index": index}))
            frames += [
                event(
                    "message_delta",
                    {
                        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                        "usage": {"output_tokens": b.completion_tokens},
                    },
                ),
                event("message_stop", {}),
            ]
            return frames
        frames = [
            event("message_start", {"message": message}),
            event(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            ),
            event("ping", {}),
        ]
        frames += [
            event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": d}},
                is_delta=True,
            )
            for d in deltas
        ]
        frames += [
            event("content_block_stop", {"index": 0}),
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": b.finish, "stop_sequence": None},
                    "usage": {"output_tokens": b.completion_tokens},
                },
            ),
            event("message_stop", {}),
        ]
        return frames
