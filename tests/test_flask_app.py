"""chatdock's Flask class (app/flask_app.py): sessions still round-trip through the
signed cookie, a request without one gets none set, and every hook runs on every
request although whether it is a coroutine is asked once."""

from __future__ import annotations

from flask import session

from app.flask_app import ChatdockFlask


def make() -> tuple[ChatdockFlask, list[str]]:
    app = ChatdockFlask(__name__)
    app.secret_key = "test-secret"
    ran: list[str] = []
    app.before_request(lambda: ran.append("before") and None)

    @app.post("/remember/<word>")
    def remember(word: str) -> str:
        session["word"] = word
        return "ok"

    @app.get("/recall")
    def recall() -> str:
        return session.get("word", "nothing")

    return app, ran


def test_a_session_set_by_one_request_is_read_by_the_next():
    app, _ = make()
    http = app.test_client()
    assert http.post("/remember/blue").headers["Set-Cookie"].startswith("session=")
    assert http.get("/recall").text == "blue"


def test_a_forged_cookie_is_an_empty_session():
    app, _ = make()
    http = app.test_client()
    http.set_cookie("session", "forged.value.sig")
    assert http.get("/recall").text == "nothing"


def test_a_request_without_a_cookie_gets_none_set():
    app, _ = make()
    answer = app.test_client().get("/recall")
    assert answer.text == "nothing"
    assert "Set-Cookie" not in answer.headers


def test_the_session_is_found_among_other_cookies_and_not_mistaken_for_a_lookalike():
    app, _ = make()
    http = app.test_client()
    http.post("/remember/green")
    http.set_cookie("theme", "dark")
    assert http.get("/recall").text == "green"  # the raw header holds "session=" and more
    other = app.test_client()
    other.set_cookie("mysession", "x")  # "session" inside another cookie's name
    other.set_cookie("theme", "dark")
    assert other.get("/recall").text == "nothing"


def test_every_hook_runs_on_every_request():
    app, ran = make()
    http = app.test_client()
    for _ in range(3):
        http.get("/recall")
    assert ran == ["before"] * 3
