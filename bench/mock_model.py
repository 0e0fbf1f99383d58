"""A mock OpenAI-compatible model for load benchmarks: answers every chat completion
after ``--delay`` seconds, as JSON or as an SSE stream, on thousands of keep-alive
connections at once (asyncio, standard library only), so the model is never what limits
a benchmark. ``--jitter J`` spreads each delay uniformly over delay x (1 - J .. 1 + J),
the same mean, as a real model's latency varies: without it every connection of a load
generator that started them together is answered at the same instant, in waves.

Run: ``python bench/mock_model.py --port 8100 --delay 1.0 [--jitter 0.5]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

WORDS = ["Hello", " from", " the", " mock", " model", "."]
USAGE = {"prompt_tokens": 9, "completion_tokens": len(WORDS), "total_tokens": 9 + len(WORDS)}


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(WORDS)},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    ).encode()


def _stream_events(model: str) -> list[bytes]:
    def chunk(choices: list[dict], usage: dict | None = None) -> bytes:
        body = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0}
        body |= {"model": model, "choices": choices, "usage": usage}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    events += [chunk([{"index": 0, "delta": {"content": word}}]) for word in WORDS]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(chunk([], USAGE))
    events.append(b"data: [DONE]\n\n")
    return events


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, jitter: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = json.loads(await reader.readexactly(length)) if length else {}
            model = body.get("model", "mock")
            await asyncio.sleep(delay * random.uniform(1 - jitter, 1 + jitter))
            if body.get("stream"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                for event in _stream_events(model):
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                writer.write(b"0\r\n\r\n")
            else:
                payload = _completion(model)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int, delay: float, jitter: float = 0.0) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, delay, jitter), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each answer")
    parser.add_argument(
        "--jitter", type=float, default=0.0, help="spread of each delay, a fraction (0 to 1)"
    )
    args = parser.parse_args()
    if not 0 <= args.jitter <= 1:
        parser.error("--jitter must be between 0 and 1")
    asyncio.run(serve(args.port, args.delay, args.jitter))


if __name__ == "__main__":
    main()
