"""Publishing from the CLI, and identified users' own per-minute limits (real Redis): an
operator sets the appearance, the identity mode and a secret (shown once), a per-user
limit; one identified user hitting it does not stop another; usage reads by origin and
by user."""

from __future__ import annotations

import time

import pytest
import time_machine

from app.domains.publish import user_hash
from app.services import usage
from tests.conftest import host_of

SHOP = "https://shop.example.com"


@pytest.fixture
def app(redis_app):
    return redis_app


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke


@pytest.fixture
def fresh_minute():
    """All requests of the test in one rate-limit window (see tests/test_limits.py)."""
    next_minute = (int(time.time() // 60) + 1) * 60
    with time_machine.travel(next_minute + 0.5, tick=True):
        yield


def test_an_operator_publishes_from_the_cli_and_each_user_has_their_own_limit(
    http, cli, account, make_client, fresh_minute
):
    client = make_client(account, "desk", allowed_origins=[SHOP])
    number = account.account_number
    updated = cli(
        "clients", "update", "desk", "--account", number,
        "--display-name", "Help desk", "--accent-color", "#0F766E",
        "--example-prompt", "Track my parcel", "--identity", "optional",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    assert "'display_name': 'Help desk'" in updated.output
    refused = cli(
        "clients", "update", "desk", "--account", number, "--logo-url", "http://x.test/l.png"
    )
    assert refused.exit_code != 0 and "https://" in refused.output

    made = cli("clients", "identity-secret", "desk", "--account", number)
    assert made.exit_code == 0
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("cdi_")
    shown = cli("clients", "show", "desk", "--account", number)
    assert "optional (secret set)" in shown.output and secret not in shown.output
    assert "'Help desk', #0f766e, 1 example prompt(s)" in shown.output

    limited = cli("limits", "set", "--account", number, "--client", "desk", "--user-rpm", "1")
    assert limited.exit_code == 0 and "user_requests_per_minute: none -> 1" in limited.output
    on_key = cli("limits", "set", "--account", number, "--user-rpm", "1")
    assert on_key.exit_code != 0 and "add --client" in on_key.output

    def token(user: str) -> str:
        response = http.post(
            "/widget/token",
            json={"user_id": user, "user_hash": user_hash(secret, user)},
            headers={"Host": host_of(client), "Origin": SHOP},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["token"]

    def say(user_token: str):
        return http.post(
            "/llm-client/",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"Host": host_of(client), "Origin": SHOP, "X-Chatdock-Widget": user_token},
        )

    ann, bob = token("ann"), token("bob")
    assert say(ann).status_code == 200
    second = say(ann)
    assert second.status_code == 429
    assert "user ann: 1 requests per minute" in second.json["error"]["message"]
    assert say(bob).status_code == 200  # bob's own window

    by_user = {row.group: (row.requests, row.refused_rate) for row in usage.report(by="user")}
    assert by_user == {"ann": (1, 1), "bob": (1, 0)}
    report = cli("usage", "--account", number, "--by", "origin")
    assert report.exit_code == 0 and SHOP in report.output
