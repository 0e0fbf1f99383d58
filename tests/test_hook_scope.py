"""app.hook_scope: an extension's app-wide request hooks step aside for the requests its
predicate names, and run as before for every other request."""

from __future__ import annotations

from flask import Flask, g, request

from app.hook_scope import init_app_outside


def _app_with_an_extension(calls: list[str]) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def ours_before() -> None:  # registered before the extension: never wrapped
        calls.append("ours")

    def extension_init() -> None:
        @app.before_request
        def refuse() -> tuple[str, int] | None:
            calls.append("before")
            return ("refused by the extension", 403) if request.args.get("refuse") else None

        @app.after_request
        def stamp(response):  # type: ignore[no-untyped-def]
            calls.append("after")
            response.headers["X-Extension"] = "1"
            return response

        @app.teardown_request
        def teardown(_error: BaseException | None) -> None:
            calls.append("teardown")

    init_app_outside(app, extension_init, lambda: request.path.startswith("/chat"))

    @app.route("/console")
    @app.route("/chat")
    def view() -> str:
        g.seen = True
        return "ok"

    return app


def test_the_extensions_hooks_run_on_other_requests_and_can_still_answer() -> None:
    calls: list[str] = []
    client = _app_with_an_extension(calls).test_client()

    answer = client.get("/console")
    assert answer.headers["X-Extension"] == "1"
    assert calls == ["ours", "before", "after", "teardown"]

    refused = client.get("/console?refuse=1")
    assert refused.status_code == 403 and refused.text == "refused by the extension"


def test_the_extensions_hooks_step_aside_where_the_predicate_says() -> None:
    calls: list[str] = []
    client = _app_with_an_extension(calls).test_client()

    answer = client.get("/chat?refuse=1")
    assert answer.status_code == 200 and answer.text == "ok"
    assert "X-Extension" not in answer.headers
    assert calls == ["ours"]
