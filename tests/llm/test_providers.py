"""Provider adapters: the echo provider, and the real SDK adapters over the real wire format.

The OpenAI and Anthropic adapters talk to local servers (see ``wire_servers``) through
the official SDKs, so these tests catch both our mistakes and SDK behaviour we rely on.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from app.config import Settings
from app.llm.anthropic_provider import LEADING_USER_PLACEHOLDER, AnthropicProvider
from app.llm.base import ChatProvider, ChatRequest, ChatTurn, ProviderError, StreamChunk
from app.llm.echo import EchoProvider
from app.llm.openai_compat import OpenAICompatibleProvider
from app.llm.registry import PROVIDER_NAMES, get_provider

from .wire_servers import WireServer, split_deltas

API_KEY = "sk-test-SECRET-0123456789abcdef"
FAST_TIMEOUT = 0.5


def request(
    *turns: tuple[str, str], system: str = "", max_tokens: int = 256, model: str = "test-model"
) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[ChatTurn(role, content) for role, content in turns],  # type: ignore[arg-type]
        system_prompt=system,
        temperature=0.3,
        max_tokens=max_tokens,
    )


def make(server: WireServer, *, api_key: str = API_KEY, timeout: float = 5.0) -> ChatProvider:
    """The adapter of the server's flavour, pointed at the server."""
    if server.flavor == "openai":
        return OpenAICompatibleProvider(api_key=api_key, base_url=server.base_url, timeout=timeout)
    return AnthropicProvider(api_key=api_key, base_url=server.base_url, timeout=timeout)


def drain(chunks: Iterator[StreamChunk]) -> tuple[list[str], StreamChunk]:
    """Text deltas and the final chunk of a stream."""
    items = list(chunks)
    assert items, "empty stream"
    *deltas, final = items
    assert all(c.usage is None and c.finish_reason is None for c in deltas)
    assert final.delta == "" and final.finish_reason is not None
    return [c.delta for c in deltas], final


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["openai", "anthropic"])
def wire(request: pytest.FixtureRequest) -> Iterator[WireServer]:
    """Each adapter test runs against both flavours."""
    server = WireServer(request.param).start()
    yield server
    server.stop()


# --- echo ----------------------------------------------------------------------------


CONVERSATION = (("user", "hello world"), ("assistant", "hi"), ("user", "how are you"))


def test_echo_replies_to_last_user_message_and_counts_words() -> None:
    result = EchoProvider().complete(request(*CONVERSATION, system="be nice", model="echo-1"))
    assert result.content == "echo: how are you"
    assert result.model == "echo-1"
    assert result.finish_reason == "stop"
    assert result.usage.prompt_tokens == 2 + 2 + 1 + 3
    assert result.usage.completion_tokens == 4
    assert result.usage.total_tokens == 12


def test_echo_is_deterministic_and_ignores_system_prompt_for_content() -> None:
    echo = EchoProvider()
    assert echo.complete(request(*CONVERSATION)) == echo.complete(request(*CONVERSATION))
    with_system = echo.complete(request(*CONVERSATION, system="you are a pirate"))
    assert with_system.content == echo.complete(request(*CONVERSATION)).content


def test_echo_without_user_message() -> None:
    assert EchoProvider().complete(request(("assistant", "welcome"))).content == "echo: "


@pytest.mark.parametrize(
    ("content", "max_tokens"),
    [
        ("how are you", 256),
        ("  spaced\tout \n words  ", 256),
        ("", 256),
        ("one two three four", 3),
        ("one  two\nthree", 2),
    ],
)
def test_echo_stream_equals_complete(content: str, max_tokens: int) -> None:
    echo = EchoProvider()
    req = request(("user", content), max_tokens=max_tokens)
    result = echo.complete(req)
    deltas, final = drain(echo.stream(req))
    assert "".join(deltas) == result.content
    assert len(deltas) == len(result.content.split())  # word by word
    assert final.usage == result.usage
    assert final.finish_reason == result.finish_reason


def test_echo_truncates_to_max_tokens_words() -> None:
    echo = EchoProvider()
    cut = echo.complete(request(("user", "one  two three"), max_tokens=2))
    assert cut.content == "echo: one"
    assert cut.finish_reason == "length"
    assert cut.usage.completion_tokens == 2

    exact = echo.complete(request(("user", "one two"), max_tokens=3))
    assert exact.content == "echo: one two"
    assert exact.finish_reason == "stop"


@pytest.mark.parametrize(
    ("trigger", "code", "status"),
    [("__echo_error__", "provider_error", 502), ("__echo_timeout__", "provider_timeout", 504)],
)
def test_echo_error_hooks(trigger: str, code: str, status: int) -> None:
    echo = EchoProvider()
    req = request(("user", "fine"), ("assistant", "ok"), ("user", trigger))
    with pytest.raises(ProviderError) as complete_err:
        echo.complete(req)
    assert (complete_err.value.code, complete_err.value.status) == (code, status)

    chunks = echo.stream(req)  # a generator: the error surfaces on iteration
    with pytest.raises(ProviderError) as stream_err:
        next(chunks)
    assert (stream_err.value.code, stream_err.value.status) == (code, status)


def test_echo_hook_only_on_exact_last_user_message() -> None:
    echo = EchoProvider()
    assert echo.complete(request(("user", "__echo_error__ please"))).content.startswith("echo:")
    assert echo.complete(request(("user", "__echo_error__"), ("user", "ok"))).content == "echo: ok"


# --- OpenAI wire format --------------------------------------------------------------


def test_openai_complete_sends_chat_completion(openai_server: WireServer) -> None:
    provider = make(openai_server)
    result = provider.complete(request(*CONVERSATION, system="be brief", max_tokens=77))

    sent = openai_server.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == "test-model"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello world"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "how are you"},
    ]
    assert sent.body["max_tokens"] == 77
    assert sent.body["temperature"] == 0.3
    assert not sent.body.get("stream")

    assert result.content == "Hello there, friend."
    assert result.model == "test-model"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 5)
    assert result.finish_reason == "stop"


def test_openai_omits_empty_system_prompt(openai_server: WireServer) -> None:
    make(openai_server).complete(request(("user", "hi")))
    assert openai_server.last.body["messages"] == [{"role": "user", "content": "hi"}]


def test_openai_stream_yields_deltas_then_usage(openai_server: WireServer) -> None:
    openai_server.behaviour.finish = "length"
    deltas, final = drain(make(openai_server).stream(request(("user", "hi"), system="s")))

    sent = openai_server.last
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"][0] == {"role": "system", "content": "s"}

    assert deltas == split_deltas("Hello there, friend.")
    assert "".join(deltas) == "Hello there, friend."
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (11, 5)
    assert final.finish_reason == "length"


def test_openai_stream_without_usage_chunk(openai_server: WireServer) -> None:
    openai_server.behaviour.usage_in_stream = False  # e.g. a server ignoring stream_options
    deltas, final = drain(make(openai_server).stream(request(("user", "hi"))))
    assert "".join(deltas) == "Hello there, friend."
    assert final.usage is None
    assert final.finish_reason == "stop"


def test_openai_compatible_server_without_key_gets_placeholder(openai_server: WireServer) -> None:
    make(openai_server, api_key="").complete(request(("user", "hi")))
    assert openai_server.last.headers["authorization"] == "Bearer unused"


def test_openai_without_key_or_base_url_is_not_configured() -> None:
    provider = OpenAICompatibleProvider(api_key="", base_url=None, timeout=1)
    for call in (provider.complete, lambda r: next(provider.stream(r))):
        with pytest.raises(ProviderError) as err:
            call(request(("user", "hi")))
        assert (err.value.code, err.value.status) == ("provider_not_configured", 503)
        assert "OPENAI_API_KEY" in err.value.message


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{}", "application/json"), (b"<html>bad gateway</html>", "text/html")],
)
def test_openai_malformed_response(
    openai_server: WireServer, body: bytes, content_type: str
) -> None:
    openai_server.behaviour.raw_body = body
    openai_server.behaviour.raw_content_type = content_type
    with pytest.raises(ProviderError) as err:
        make(openai_server).complete(request(("user", "hi")))
    assert (err.value.code, err.value.status) == ("provider_bad_response", 502)


# --- Anthropic wire format -----------------------------------------------------------


def test_anthropic_complete_sends_messages_request(anthropic_server: WireServer) -> None:
    provider = make(anthropic_server)
    result = provider.complete(request(*CONVERSATION, system="be brief", max_tokens=77))

    sent = anthropic_server.last
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"]
    assert "authorization" not in sent.headers
    assert sent.body["model"] == "test-model"
    assert sent.body["system"] == "be brief"
    assert sent.body["messages"] == [
        {"role": "user", "content": "hello world"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "how are you"},
    ]
    assert sent.body["max_tokens"] == 77
    assert sent.body["temperature"] == 0.3
    assert not sent.body.get("stream")

    assert result.content == "Hello there, friend."
    assert result.model == "test-model"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 5)
    assert result.finish_reason == "stop"


def test_anthropic_normalises_conversation(anthropic_server: WireServer) -> None:
    req = ChatRequest(
        model="m",
        messages=[
            ChatTurn("assistant", "Welcome!"),
            ChatTurn("system", "Answer in French."),
            ChatTurn("user", "first"),
            ChatTurn("user", "second"),
            ChatTurn("assistant", ""),
            ChatTurn("user", "third"),
            ChatTurn("assistant", "a1"),
            ChatTurn("assistant", "a2"),
            ChatTurn("user", "last"),
        ],
        temperature=1.7,
    )
    make(anthropic_server).complete(req)
    body = anthropic_server.last.body
    assert body["system"] == "Answer in French."
    assert body["messages"] == [
        {"role": "user", "content": LEADING_USER_PLACEHOLDER},
        {"role": "assistant", "content": "Welcome!"},
        {"role": "user", "content": "first\n\nsecond\n\nthird"},
        {"role": "assistant", "content": "a1\n\na2"},
        {"role": "user", "content": "last"},
    ]
    assert body["temperature"] == 1.0  # clamped to Anthropic's range


def test_anthropic_omits_empty_system_prompt(anthropic_server: WireServer) -> None:
    make(anthropic_server).complete(request(("user", "hi")))
    assert "system" not in anthropic_server.last.body


def test_anthropic_stream_yields_deltas_then_usage(anthropic_server: WireServer) -> None:
    anthropic_server.behaviour.finish = "max_tokens"
    anthropic_server.behaviour.completion_tokens = 9
    deltas, final = drain(make(anthropic_server).stream(request(("user", "hi"), system="s")))

    sent = anthropic_server.last
    assert sent.body["stream"] is True
    assert sent.body["system"] == "s"
    assert sent.headers["x-api-key"] == API_KEY

    assert deltas == split_deltas("Hello there, friend.")
    assert final.usage is not None
    # input tokens come from message_start, output tokens from message_delta
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (11, 9)
    assert final.finish_reason == "length"


def test_anthropic_without_key_is_not_configured(anthropic_server: WireServer) -> None:
    provider = make(anthropic_server, api_key="")
    for call in (provider.complete, lambda r: next(provider.stream(r))):
        with pytest.raises(ProviderError) as err:
            call(request(("user", "hi")))
        assert (err.value.code, err.value.status) == ("provider_not_configured", 503)
    assert anthropic_server.requests == []


# --- both adapters: failures ---------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "code", "status"),
    [
        (500, "provider_error", 502),
        (503, "provider_error", 502),
        (400, "provider_error", 502),
        (429, "provider_rate_limited", 429),
        (401, "provider_auth_failed", 502),
        (403, "provider_auth_failed", 502),
    ],
)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_http_errors_are_mapped(
    wire: WireServer, http_status: int, code: str, status: int, streaming: bool
) -> None:
    wire.behaviour.status = http_status
    provider = make(wire)
    with pytest.raises(ProviderError) as err:
        if streaming:
            list(provider.stream(request(("user", "hi"))))
        else:
            provider.complete(request(("user", "hi")))
    assert (err.value.code, err.value.status) == (code, status)
    assert len(wire.requests) == 1  # max_retries=0: no silent retries
    # The server's error body echoes the key; none of it may reach our message.
    assert API_KEY not in err.value.message and API_KEY not in str(err.value)
    assert "Incorrect API key" not in err.value.message
    if code == "provider_error":
        assert err.value.message == f"provider answered HTTP {http_status}"


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_slow_provider_times_out(wire: WireServer, streaming: bool) -> None:
    wire.behaviour.delay = 5
    provider = make(wire, timeout=FAST_TIMEOUT)
    started = time.monotonic()
    with pytest.raises(ProviderError) as err:
        if streaming:
            list(provider.stream(request(("user", "hi"))))
        else:
            provider.complete(request(("user", "hi")))
    assert time.monotonic() - started < 3
    assert (err.value.code, err.value.status) == ("provider_timeout", 504)
    assert "0.5s" in err.value.message


def test_stall_mid_stream_times_out(wire: WireServer) -> None:
    wire.behaviour.pause_after_first_delta = 5
    chunks = make(wire, timeout=FAST_TIMEOUT).stream(request(("user", "hi")))
    assert next(chunks).delta == "Hello"
    with pytest.raises(ProviderError) as err:
        next(chunks)
    assert (err.value.code, err.value.status) == ("provider_timeout", 504)


@pytest.mark.parametrize("flavor", ["openai", "anthropic"])
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_closed_port_is_unreachable(flavor: str, streaming: bool) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    provider: ChatProvider = (
        OpenAICompatibleProvider(API_KEY, base + "/v1", FAST_TIMEOUT)
        if flavor == "openai"
        else AnthropicProvider(API_KEY, base, FAST_TIMEOUT)
    )
    with pytest.raises(ProviderError) as err:
        if streaming:
            list(provider.stream(request(("user", "hi"))))
        else:
            provider.complete(request(("user", "hi")))
    assert (err.value.code, err.value.status) == ("provider_unreachable", 502)
    assert API_KEY not in err.value.message


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_empty_reply_is_bad_response(wire: WireServer, streaming: bool) -> None:
    wire.behaviour.text = ""
    provider = make(wire)
    with pytest.raises(ProviderError) as err:
        if streaming:
            list(provider.stream(request(("user", "hi"))))
        else:
            provider.complete(request(("user", "hi")))
    assert (err.value.code, err.value.status) == ("provider_bad_response", 502)


# --- registry ------------------------------------------------------------------------


def test_registry_builds_and_caches_providers(openai_server: WireServer) -> None:
    settings = Settings(
        OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=openai_server.base_url, LLM_TIMEOUT_SECONDS=2
    )
    assert PROVIDER_NAMES == ("echo", "openai", "anthropic")
    for name in PROVIDER_NAMES:
        provider = get_provider(name, settings)
        assert provider.name == name
        assert get_provider(name, settings) is provider
    assert get_provider("echo", Settings()) is not get_provider("echo", settings)

    get_provider("openai", settings).complete(request(("user", "hi")))
    assert openai_server.last.headers["authorization"] == f"Bearer {API_KEY}"

    with pytest.raises(ProviderError) as err:
        get_provider("anthropic", Settings(ANTHROPIC_API_KEY="")).complete(request(("user", "x")))
    assert (err.value.code, err.value.status) == ("provider_not_configured", 503)


def test_registry_rejects_unknown_provider() -> None:
    with pytest.raises(ProviderError) as err:
        get_provider("gemini", Settings())
    assert (err.value.code, err.value.status) == ("unknown_provider", 503)


# --- an OpenAI stream read from its raw events -----------------------------------------


def _raw_stream_server(events: list[bytes]) -> tuple[str, object]:
    """A one-shot server answering any POST with these SSE events (a 200 stream)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for event in events:
                self.wfile.write(event)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1", server


def _delta(text: str) -> bytes:
    return b'data: {"choices": [{"index": 0, "delta": {"content": "%s"}}]}\n\n' % text.encode()


@pytest.mark.parametrize(
    ("bad_event", "code"),
    [
        (b'data: {"error": {"message": "overloaded"}}\n\n', "provider_error"),
        (b"data: {not json\n\n", "provider_bad_response"),
    ],
)
def test_openai_stream_failing_after_text_raises_after_the_text(bad_event, code) -> None:
    """An error object (or garbage) after the 200 ends the stream with the provider's
    error once the text before it was passed on: the chat stores what was produced."""
    base_url, server = _raw_stream_server([_delta("Hel"), bad_event, b"data: [DONE]\n\n"])
    try:
        _assert_fails_after_the_text(OpenAICompatibleProvider("sk-test", base_url, 5), code)
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def _assert_fails_after_the_text(provider: ChatProvider, code: str) -> None:
    """The stream passes on "Hel", then ends with the provider's error ``code``."""
    seen: list[str] = []
    with pytest.raises(ProviderError) as err:
        for chunk in provider.stream(request(("user", "hi"))):
            seen.append(chunk.delta)
    assert seen == ["Hel"]
    assert (err.value.code, err.value.status) == (code, 502)


def _anthropic_event(kind: str, **data: object) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (kind.encode(), json.dumps({"type": kind, **data}).encode())


@pytest.mark.parametrize(
    ("bad_event", "code"),
    [
        (
            _anthropic_event("error", error={"type": "overloaded_error", "message": "busy"}),
            "provider_error",
        ),
        (b"event: content_block_delta\ndata: {not json\n\n", "provider_bad_response"),
    ],
)
def test_anthropic_stream_failing_after_text_raises_after_the_text(bad_event, code) -> None:
    """Anthropic's stream read from its raw events: an error event (or garbage) after
    the 200 ends it with the provider's error once the text before it was passed on."""
    events = [
        _anthropic_event("message_start", message={"usage": {"input_tokens": 3}}),
        _anthropic_event(
            "content_block_start", index=0, content_block={"type": "text", "text": ""}
        ),
        _anthropic_event(
            "content_block_delta", index=0, delta={"type": "text_delta", "text": "Hel"}
        ),
        bad_event,
        _anthropic_event("message_stop"),
    ]
    base_url, server = _raw_stream_server(events)
    try:
        provider = AnthropicProvider("sk-ant-test", base_url.removesuffix("/v1"), 5)
        _assert_fails_after_the_text(provider, code)
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def _tool_use_events(*pieces: str) -> list[bytes]:
    """A ``lookup`` tool call's block start, then its input JSON in ``pieces``."""
    start = _anthropic_event(
        "content_block_start",
        index=0,
        content_block={"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
    )
    deltas = [
        _anthropic_event(
            "content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": p}
        )
        for p in pieces
    ]
    return [start, *deltas]


def test_anthropic_stream_assembles_a_tool_call_from_its_pieces() -> None:
    """A tool call's input arrives as JSON text in pieces; usage adds the cached prompt."""
    events = [
        _anthropic_event(
            "message_start",
            message={
                "usage": {"input_tokens": 5, "cache_read_input_tokens": 2, "output_tokens": 1}
            },
        ),
        *_tool_use_events('{"q": ', '"x"}'),
        _anthropic_event("content_block_stop", index=0),
        _anthropic_event(
            "message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 9}
        ),
        _anthropic_event("message_stop"),
    ]
    base_url, server = _raw_stream_server(events)
    try:
        provider = AnthropicProvider("sk-ant-test", base_url.removesuffix("/v1"), 5)
        chunks = list(provider.stream(request(("user", "hi"))))
        last = chunks[-1]
        assert [c.delta for c in chunks[:-1]] == []
        assert [(c.id, c.name, json.loads(c.arguments)) for c in last.tool_calls] == [
            ("toolu_1", "lookup", {"q": "x"})
        ]
        assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (7, 9)
        assert last.finish_reason == "tool_calls"
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def test_anthropic_streamed_tool_input_that_is_not_json_is_passed_on_as_text() -> None:
    """Broken input JSON is the tool loop's to refuse (as OpenAI's arguments are), not
    an error escaping the adapter after the stream was read."""
    events = [
        _anthropic_event("message_start", message={"usage": {"input_tokens": 5}}),
        *_tool_use_events('{"q": '),
        _anthropic_event(
            "message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 3}
        ),
        _anthropic_event("message_stop"),
    ]
    base_url, server = _raw_stream_server(events)
    try:
        provider = AnthropicProvider("sk-ant-test", base_url.removesuffix("/v1"), 5)
        last = list(provider.stream(request(("user", "hi"))))[-1]
        assert [(c.name, c.arguments) for c in last.tool_calls] == [("lookup", '{"q": ')]
    finally:
        server.shutdown()  # type: ignore[attr-defined]
