"""The official openai SDK, pointed at a client, works against a real server."""

from __future__ import annotations

import httpx
import openai
import pytest

from app.services import api_keys
from tests.conftest import host_of
from tests.live import serve


@pytest.fixture
def port(app):
    with serve(app) as port:
        yield port


def sdk_for_host(port: int, host: str, api_key: str = "unused") -> openai.OpenAI:
    """The SDK reaching the client host on loopback (Python resolves no *.test names)."""
    return openai.OpenAI(
        api_key=api_key,
        base_url=f"http://127.0.0.1:{port}/v1",
        http_client=httpx.Client(headers={"Host": host}),
        max_retries=0,
    )


def test_sdk_completion_on_the_client_host(port, demo):
    sdk = sdk_for_host(port, host_of(demo))
    completion = sdk.chat.completions.create(
        model="anything",
        messages=[
            {"role": "system", "content": "extra instructions"},
            {"role": "user", "content": "hello sdk"},
        ],
    )
    assert completion.choices[0].message.content == "echo: hello sdk"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "echo-1"
    assert completion.usage.completion_tokens == 3


def test_sdk_streaming_with_usage(port, demo):
    sdk = sdk_for_host(port, host_of(demo))
    stream = sdk.chat.completions.create(
        model="echo-1",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: one two three"
    assert usage is not None and usage.completion_tokens == 4


def test_sdk_on_the_api_v0_path_with_a_key(port, account, make_client):
    client = make_client(account, "locked", require_api_key=True)
    key = api_keys.create_api_key(account).plaintext
    sdk = openai.OpenAI(
        api_key=key,
        base_url=f"http://127.0.0.1:{port}/api/v0/llm-clients/{client.id}/locked/v1",
        max_retries=0,
    )
    completion = sdk.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "echo: hi"
    wrong = openai.OpenAI(
        api_key="cdk_000000000000_" + "A" * 43,
        base_url=f"http://127.0.0.1:{port}/api/v0/llm-clients/{client.id}/locked/v1",
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError, match="invalid API key"):
        wrong.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])


def test_sdk_sees_provider_errors_as_errors(port, demo):
    sdk = sdk_for_host(port, host_of(demo))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "__echo_error__"}]
        )
    assert caught.value.status_code == 502


def test_content_parts_and_bad_bodies(http, demo):
    host = {"Host": host_of(demo)}
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a b"}]}]}
    response = http.post("/v1/chat/completions", json=parts, headers=host)
    assert response.json["choices"][0]["message"]["content"] == "echo: a b"
    for bad in ({}, {"messages": []}, {"messages": [{"role": "tool", "content": "x"}]}):
        response = http.post("/v1/chat/completions", json=bad, headers=host)
        assert response.status_code == 400
        assert response.json["error"]["message"]
