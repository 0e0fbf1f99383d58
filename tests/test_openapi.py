"""The OpenAPI document of the chat API, and the live app checked against it by schemathesis."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.blueprints.api import bp as api_bp
from app.extensions import db
from app.llm.echo import ERROR_TRIGGER, TIMEOUT_TRIGGER
from app.openapi import (
    CHAT_ERROR_STATUSES,
    CHAT_PATHS,
    CLIENT_HOST_PATHS,
    OPENAI_BY_ID_PATH,
    OPENAI_PATH,
    REF_TEMPLATE,
    build_openapi,
    openapi_document,
    openapi_json,
)
from app.schemas.chat import ChatBody, ErrorBody, OpenAIChatBody
from app.services import api_keys
from app.services.chat import MERGE_RULE
from tests.conftest import CUSTOMER_DOMAIN, host_of

SCHEMA_URL = "/api/openapi.json"
OPENAI_PATHS = (OPENAI_PATH, OPENAI_BY_ID_PATH)
# Enough to meet every status the echo client can produce, small enough for < 60 s in all.
EXAMPLES = {"positive": 15, "stream": 10, "negative": 10}
PREFLIGHT_EXAMPLES = 6


@pytest.fixture
def api_app(app: Flask) -> Flask:
    """The app with the ``api`` blueprint, whether or not create_app registers it yet."""
    if "api" not in app.blueprints:
        app.register_blueprint(api_bp)
    return app


@pytest.fixture
def document(api_app: Flask) -> dict[str, Any]:
    response = api_app.test_client().get(SCHEMA_URL)
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    return response.get_json()


# --- (a) the document ----------------------------------------------------------------


def test_document_is_valid_openapi_3_1(api_app: Flask, document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, api_app, config=SchemathesisConfig())
    schema.validate()  # the OpenAPI 3.1 meta-schema (schemathesis' bundled copy)
    for name, component in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(component), name  # each is JSON Schema 2020-12


def test_document_lists_the_manifest_routes(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/api/v1/apply"]) == {"post"}
    assert set(paths["/api/v1/manifests/{kind}"]) == {"get"}
    assert set(paths["/api/v1/manifests/{kind}/{name}"]) == {"get", "delete"}
    assert set(paths["/api/v1/schemas/{kind}"]) == {"get"}
    answer = paths["/api/v1/apply"]["post"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ApplyOut"}


def test_document_lists_every_chat_path(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(CHAT_PATHS) <= set(paths)
    assert {"/healthz", "/readyz"} <= set(paths)
    ref = {"$ref": REF_TEMPLATE.format(model="ErrorBody")}
    for path in CHAT_PATHS:
        post = paths[path]["post"]
        assert post["requestBody"]["required"] is True
        ok = post["responses"]["200"]["content"]
        assert {"application/json", "text/event-stream"} <= set(ok)
        assert "text/event-stream" in post["responses"]["200"]["description"]
        for status in ("400", "401", "403", "404", "413", "429", "502", "503", "504"):
            assert status in CHAT_ERROR_STATUSES
            target = post["responses"][status]["$ref"].rsplit("/", 1)[-1]
            assert document["components"]["responses"][target]["content"] == {
                "application/json": {"schema": ref}
            }
        assert {"ApiKeyHeader": []} in post["security"]
        assert {"BearerAuth": []} in post["security"]
        assert {} in post["security"]  # clients without require_api_key need no key
        assert "options" in paths[path]
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "in": "header"}
    assert schemes["ApiKeyHeader"]["name"] == "x-api-key"
    assert schemes["BearerAuth"]["type"] == "http"
    assert schemes["BearerAuth"]["scheme"] == "bearer"


def test_client_host_paths_have_a_host_server(document: dict[str, Any]) -> None:
    for path in CLIENT_HOST_PATHS:
        (server,) = document["paths"][path]["servers"]
        assert "{client_host}" in server["url"]
        assert server["variables"]["client_host"]["default"].endswith(f".{CUSTOMER_DOMAIN}")
        assert "{name}.{account_number}" in document["paths"][path]["post"]["description"]
    for path in set(CHAT_PATHS) - set(CLIENT_HOST_PATHS):
        assert "servers" not in document["paths"][path]


def test_bodies_come_from_the_pydantic_models(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    for model, mode in ((ChatBody, "validation"), (OpenAIChatBody, "validation")):
        generated = model.model_json_schema(ref_template=REF_TEMPLATE, mode=mode)
        generated.pop("$defs", None)
        assert components[model.__name__] == generated
    error = ErrorBody.model_json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    assert components["ErrorDetail"] == error["$defs"]["ErrorDetail"]


def test_the_bodies_say_the_last_message_must_be_from_the_user(
    document: dict[str, Any], api_app: Flask, account, make_client
) -> None:
    """Issue 17, Low (schemathesis ST202): the schema accepted bodies whose last message is
    not `user`, which the server refuses; the document must say so, with the answer."""
    components = document["components"]["schemas"]
    for body in ("ChatBody", "OpenAIChatBody"):
        described = components[body]["properties"]["messages"]["description"]
        assert "last one must have role `user`" in described and "invalid_messages" in described
    host = host_of(make_client(account, "docs"))
    http = api_app.test_client()
    ending_with_assistant = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]
    for path in ("/llm-client/", "/v1/chat/completions"):
        answer = http.post(path, json={"messages": ending_with_assistant}, headers={"Host": host})
        assert answer.status_code == 400, answer.get_json()
        assert answer.get_json()["error"]["code"] == "invalid_messages"


def test_native_descriptions_carry_the_merge_rule(document: dict[str, Any]) -> None:
    rule = MERGE_RULE
    assert "prompt_history` is ignored" in rule
    assert "must end with a `user` turn" in rule
    for path in ("/llm-client/", "/api/v0/llm-clients/{client_id}/{name}/"):
        assert rule in document["paths"][path]["post"]["description"]


def test_document_is_built_once_and_matches_the_configured_domain(
    document: dict[str, Any],
) -> None:
    assert openapi_json(CUSTOMER_DOMAIN) is openapi_json(CUSTOMER_DOMAIN)
    assert document == openapi_document(CUSTOMER_DOMAIN)
    assert document == json.loads(json.dumps(build_openapi(CUSTOMER_DOMAIN)))
    copy = openapi_document(CUSTOMER_DOMAIN)
    copy["paths"].clear()
    assert openapi_document(CUSTOMER_DOMAIN)["paths"]


def test_stream_examples_match_the_event_schemas(document: dict[str, Any]) -> None:
    schemas = {"session": "StreamSession", "message": "StreamDelta", "done": "StreamDone"}
    for path in CHAT_PATHS:
        openai = path in OPENAI_PATHS
        ok = document["paths"][path]["post"]["responses"]["200"]["content"]
        events = _sse_events(ok["text/event-stream"]["example"].encode())
        assert events
        for name, data in events:
            if openai and data == "[DONE]":
                continue
            name = "ChatCompletionChunk" if openai else schemas[name]
            _component_validator(document, name).validate(json.loads(data))


# --- (b) the live app against the document -------------------------------------------


def _component_validator(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    root = {"$ref": REF_TEMPLATE.format(model=name), "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def _sse_events(content: bytes) -> list[tuple[str, str]]:
    events = []
    for block in content.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events


def make_sse_check(document: dict[str, Any]):
    """A check of the event streams the document describes in words (OpenAPI 3.1 has no
    per-event schema): each event's data against its component schema, and the order."""
    validators = {
        name: _component_validator(document, name)
        for name in (
            "StreamSession",
            "StreamDelta",
            "StreamDone",
            "ChatCompletionChunk",
            "ErrorBody",
        )
    }

    def sse_events_conform(ctx, response, case) -> bool | None:
        content_type = (response.headers.get("content-type") or [""])[0]
        if not content_type.startswith("text/event-stream"):
            return None
        assert response.status_code == 200, "an event stream must be a 200"
        events = _sse_events(response.content)
        assert events, "the event stream is empty"
        openai = case.operation.path.endswith("/v1/chat/completions")
        for index, (name, data) in enumerate(events):
            if name == "error":
                expected = "ErrorBody"
            elif openai:
                if data == "[DONE]":
                    assert index == len(events) - 1, "[DONE] must be the last event"
                    continue
                expected = "ChatCompletionChunk"
            else:
                expected = {"session": "StreamSession", "done": "StreamDone"}.get(
                    name, "StreamDelta"
                )
                assert name in ("session", "message", "done"), f"unexpected event {name!r}"
                assert (name == "session") == (index == 0), "session must be the first event"
            errors = [e.message for e in validators[expected].iter_errors(json.loads(data))]
            assert not errors, f"event #{index} ({name}) is not a {expected}: {errors}"
        if not response.stream_cut_short and events[-1][0] != "error":
            last = "[DONE]" if openai else "done"
            assert (events[-1][1] if openai else events[-1][0]) == last, f"{last} is missing"
        return True

    return sse_events_conform


CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _run(
    schema: Any,
    path: str,
    method: str,
    *,
    mode: GenerationMode,
    examples: int,
    path_parameters: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    base_url: str | None = None,
    checks: list,
    stream: bool = False,
) -> list[Any]:
    """Generate ``examples`` cases of one operation, send each (to ``base_url``: a client
    host for the host-based paths), run ``checks`` on each answer; return the responses."""
    operation = schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    if mode is GenerationMode.POSITIVE and method == "POST":
        # Half the cases made answerable, so the success answer is met every run.
        strategy = st.tuples(strategy, st.booleans()).map(
            lambda pair: _answerable(pair[0]) if pair[1] else pair[0]
        )
    if stream:
        strategy = strategy.map(_streaming)
    # Hypothesis draws string constants from the code base, the echo provider's magic
    # failure messages too; their 502/504 are by design, not server errors.
    strategy = strategy.filter(_no_echo_trigger)
    responses = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[phase for phase in Phase if phase is not Phase.explain],  # slow on failure
    )
    @given(case=strategy)
    def exercise(case) -> None:
        try:
            response = case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
            responses.append(response)
        finally:
            # The test's app context outlives the requests, so end the session as each
            # request's own teardown would: one failed request must not fail the next.
            db.session.remove()

    exercise()
    return responses


def _no_echo_trigger(case) -> bool:
    sent = json.dumps(case.body, default=str)
    return ERROR_TRIGGER not in sent and TIMEOUT_TRIGGER not in sent


def _answerable(case):
    """A valid body the echo client answers with 200: it ends with a user message and
    names no session (a generated session_key is unknown: 404)."""
    body = case.body
    if isinstance(body, dict) and body.get("messages"):
        body = {**body, "messages": [*body["messages"][:-1], {**body["messages"][-1]}]}
        body["messages"][-1]["role"] = "user"
        body.pop("session_key", None)
        case.body = body
    return case


def _streaming(case):
    """Ask for a stream: a generated body sets ``stream`` only now and then."""
    if isinstance(case.body, dict):
        case.body = {**case.body, "stream": True}
    return case


def _content_type(response) -> str:
    return (response.headers.get("content-type") or [""])[0].split(";")[0]


@pytest.fixture
def live(api_app: Flask, account, make_client):
    """The loaded schema, and an open and a key-protected deployed echo client."""
    open_client = make_client(account, "demo")
    locked = make_client(account, "locked", require_api_key=True)
    key = api_keys.create_api_key(account, [locked], label="schemathesis").plaintext
    config = SchemathesisConfig.from_dict({"max-stream-events": 10_000})
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, api_app, config=config)
    document = api_app.test_client().get(SCHEMA_URL).get_json()
    clients = {
        "open": (open_client, {}),
        "x-api-key": (locked, {"x-api-key": key}),
        "bearer": (locked, {"Authorization": f"Bearer {key}"}),
    }
    return schema, clients, [*CONFORMANCE_CHECKS, make_sse_check(document)]


@pytest.mark.parametrize(
    "auth, variant",
    [
        *((auth, variant) for auth in ("open", "x-api-key") for variant in EXAMPLES),
        ("bearer", "positive"),
        ("bearer", "stream"),
    ],
)
@pytest.mark.parametrize("path", CHAT_PATHS)
def test_chat_endpoints_conform(live, path: str, auth: str, variant: str) -> None:
    """Valid and invalid bodies to each chat endpoint, for an open client and for a client
    requiring a key (sent as x-api-key or as a bearer token)."""
    schema, clients, checks = live
    client, headers = clients[auth]
    path_parameters, base_url = None, None
    if path in CLIENT_HOST_PATHS:
        base_url = f"http://{host_of(client)}"  # the `client_host` server variable
    else:
        path_parameters = {"client_id": client.id, "name": client.name}
    mode = GenerationMode.NEGATIVE if variant == "negative" else GenerationMode.POSITIVE
    if variant == "negative":  # the bodies are strict: every invalid one is refused
        checks = [*checks, negative_data_rejection]
    responses = _run(
        schema,
        path,
        "POST",
        mode=mode,
        examples=EXAMPLES[variant],
        path_parameters=path_parameters,
        headers=headers,
        base_url=base_url,
        checks=checks,
        stream=variant == "stream",
    )
    statuses = {r.status_code for r in responses}
    if variant == "negative":
        assert 400 in statuses, statuses
    else:  # the key opened the client, and the success answer was met and checked
        assert 200 in statuses, statuses
        assert not statuses & {401, 403}, statuses
    if variant == "stream":
        assert "text/event-stream" in {_content_type(r) for r in responses if r.status_code == 200}


@pytest.mark.parametrize("origin", ["generated", "own"])
@pytest.mark.parametrize("path", CHAT_PATHS)
def test_preflights_conform(live, path: str, origin: str) -> None:
    """Preflights from generated origins (refused) and from the client's own host."""
    schema, clients, checks = live
    client, _ = clients["open"]
    headers, path_parameters, base_url = {}, None, None
    if path in CLIENT_HOST_PATHS:
        base_url = f"http://{host_of(client)}"
    else:
        path_parameters = {"client_id": client.id, "name": client.name}
    if origin == "own":
        headers["Origin"] = f"https://{host_of(client)}"
    responses = _run(
        schema,
        path,
        "OPTIONS",
        mode=GenerationMode.POSITIVE,
        examples=PREFLIGHT_EXAMPLES if origin == "generated" else 2,
        path_parameters=path_parameters,
        headers=headers,
        base_url=base_url,
        checks=checks,
    )
    assert {r.status_code for r in responses} == ({204} if origin == "own" else {403})


@pytest.mark.parametrize("path", ["/healthz", "/readyz", SCHEMA_URL])
def test_probes_and_document_conform(live, path: str) -> None:
    schema, _, checks = live
    _run(schema, path, "GET", mode=GenerationMode.POSITIVE, examples=1, checks=checks)


# Numbers are strict: the document (generated from the same model) says number / integer,
# so numeric strings and booleans are refused rather than coerced.
@pytest.mark.parametrize(
    "field, value",
    [("temperature", "0.5"), ("temperature", True), ("max_tokens", "5"), ("max_tokens", True)],
)
def test_openai_numbers_are_strict(http, demo, field: str, value: object) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], field: value}
    response = http.post(OPENAI_PATH, json=body, headers={"Host": host_of(demo)})
    assert response.status_code == 400, response.json
