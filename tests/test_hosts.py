"""Host routing: which client a Host or path reaches, and which Hosts are refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.extensions import db
from app.hosts import normalize_host, normalize_origin
from app.models import CustomDomain, DeploymentStatus, DomainStatus
from app.services.accounts import create_account
from tests.conftest import CUSTOMER_DOMAIN, host_of

CHAT = {"messages": [{"role": "user", "content": "ping"}]}


def chat(http, host: str, path: str = "/llm-client/"):
    return http.post(path, json=CHAT, headers={"Host": host})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Demo.1111-2222-3333.API.chatdock.test", "demo.1111-2222-3333.api.chatdock.test"),
        ("demo.example.com:8443", "demo.example.com"),
        ("demo.example.com.", "demo.example.com"),
        ("[::1]:5000", "::1"),
        ("127.0.0.1:5000", "127.0.0.1"),
    ],
)
def test_normalize_host(raw, expected):
    assert normalize_host(raw) == expected


def test_normalize_origin():
    assert normalize_origin("HTTPS://App.Example.com:443") == "https://app.example.com"
    assert normalize_origin("http://app.example.com:8080") == "http://app.example.com:8080"
    assert normalize_origin("ftp://x") is None
    assert normalize_origin("not a url") is None


def test_default_host_serves_the_client_case_and_port_insensitive(http, demo):
    host = host_of(demo).upper() + ":8443"
    response = chat(http, host)
    assert response.status_code == 200
    assert response.json["client"] == "demo"


def test_hyphenated_names_and_two_accounts_never_mix(http, account, make_client):
    other = create_account("Other Inc")
    mine = make_client(account, "sales-bot-2", system_prompt="mine")
    theirs = make_client(other, "sales-bot-2", system_prompt="theirs")
    assert chat(http, host_of(mine)).json["session_key"]
    r_mine, r_theirs = chat(http, host_of(mine)), chat(http, host_of(theirs))
    assert r_mine.status_code == r_theirs.status_code == 200
    # Each session belongs to the client whose host was called: swap them and both fail.
    swapped = http.post(
        "/llm-client/",
        json={**CHAT, "session_key": r_mine.json["session_key"]},
        headers={"Host": host_of(theirs)},
    )
    assert swapped.status_code == 404


def test_api_v0_path_on_any_platform_host(http, demo):
    for host in ("localhost:5000", "127.0.0.1", host_of(demo)):
        response = chat(http, host, f"/api/v0/llm-clients/{demo.id}/demo/")
        assert response.status_code == 200, (host, response.json)


def test_api_v0_path_is_never_served_on_another_clients_host(http, account, demo, make_client):
    """Issue 17, Medium 5: the /api/v0 path answered on any client host, so on another
    tenant's host and verified custom domain too."""
    tenant = create_account("Tenant")
    theirs = make_client(tenant, "shop")
    domain = CustomDomain(account=tenant, domain="tenant.example.org", status=DomainStatus.VERIFIED)
    db.session.add(domain)
    theirs.custom_domain = domain
    sibling = make_client(account, "sibling")
    db.session.commit()
    path = f"/api/v0/llm-clients/{demo.id}/demo/"
    for host in (host_of(theirs), "shop.tenant.example.org", host_of(sibling)):
        response = chat(http, host, path)
        assert response.status_code == 404, host
        assert response.json["error"]["code"] == "client_not_found"
        openai = http.post(path + "v1/chat/completions", json=CHAT, headers={"Host": host})
        assert openai.status_code == 404, host
    assert chat(http, "shop.tenant.example.org").status_code == 200  # their own client
    assert chat(http, "localhost", path).status_code == 200


def test_api_v0_path_needs_the_right_name(http, demo):
    response = chat(http, "localhost", f"/api/v0/llm-clients/{demo.id}/other/")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "client_not_found"
    assert chat(http, "localhost", "/api/v0/llm-clients/999999/demo/").status_code == 404


def test_unknown_and_spoofed_hosts_get_400_json(http, demo):
    for host in (
        "evil.example.com",
        f"nobody.{demo.account.account_number}.{CUSTOMER_DOMAIN}",
        f"demo.0000-0000-0000.{CUSTOMER_DOMAIN}",
        f"{host_of(demo)}.evil.example.com",
        "bad host!",
    ):
        response = chat(http, host)
        assert response.status_code == 400, host
        assert response.json["error"]["code"] == "unknown_host"


def test_undeployed_client_is_not_served(http, account, make_client):
    draft = make_client(account, "draft-bot", deployed=False)
    response = chat(http, host_of(draft))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "client_not_deployed"
    assert chat(http, "localhost", f"/api/v0/llm-clients/{draft.id}/draft-bot/").status_code == 404


def test_index_follows_changes_in_this_process(http, demo):
    assert chat(http, host_of(demo)).status_code == 200
    demo.deployment_status = DeploymentStatus.DRAFT
    db.session.commit()
    assert chat(http, host_of(demo)).status_code == 404
    demo.name = "renamed"
    demo.deployment_status = DeploymentStatus.DEPLOYED
    db.session.commit()
    assert chat(http, host_of(demo)).status_code == 200
    old_host = f"demo.{demo.account.account_number}.{CUSTOMER_DOMAIN}"
    assert chat(http, old_host).status_code == 400


def test_index_follows_changes_made_by_another_process(app, http, account, migrated):
    """A client created by the CLI in another process is served without a restart."""
    assert chat(http, f"cli-bot.{account.account_number}.{CUSTOMER_DOMAIN}").status_code == 400
    env = {
        "DATABASE_URL": migrated,
        "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
        "FLASK_APP": "wsgi.py",
        "LOG_LEVEL": "WARNING",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "clients",
            "create",
            "cli-bot",
            "--account",
            account.account_number,
            "--deployed",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    response = chat(http, f"cli-bot.{account.account_number}.{CUSTOMER_DOMAIN}")
    assert response.status_code == 200
    assert response.json["client"] == "cli-bot"


def test_check_interval_caches_between_checks(app, make_app, make_client):
    """Within ``HOST_INDEX_CHECK_SECONDS`` requests route on the cached index, but a chat
    call checks the stamp before it refuses a host: a client deployed a moment ago (in
    another process, here within the interval) answers the chat at once."""
    app = make_app(HOST_INDEX_CHECK_SECONDS=3600)
    http = app.test_client()
    with app.app_context():
        account = create_account("Cached")
        first = make_client(account, "first")
        assert chat(http, host_of(first)).status_code == 200  # index built now
        second = make_client(account, "second")
        preflight = {"Host": host_of(second), "Origin": f"https://{host_of(second)}"}
        # Within the interval the index is not re-checked...
        assert http.options("/llm-client/", headers=preflight).status_code == 400
        app.extensions["chatdock.hosts"].invalidate()
        # ...until the check is due.
        assert http.options("/llm-client/", headers=preflight).status_code == 204
        third = make_client(account, "third")
        response = chat(http, host_of(third))  # within the interval again
        assert response.status_code == 200, response.json
        assert response.json["client"] == "third"
        assert chat(http, "nobody.1111-2222-3333.api.chatdock.test").status_code == 400


def test_verified_custom_domain_host(http, account, demo):
    domain = CustomDomain(account=account, domain="bots.example.org", status=DomainStatus.PENDING)
    db.session.add(domain)
    demo.custom_domain = domain
    db.session.commit()
    assert chat(http, "demo.bots.example.org").status_code == 400  # not verified yet
    domain.status = DomainStatus.VERIFIED
    db.session.commit()
    response = chat(http, "DEMO.bots.example.org:443")
    assert response.status_code == 200
    assert chat(http, host_of(demo)).status_code == 200  # the default host keeps working


def test_dev_hosts(app, make_app, make_client):
    app = make_app(CUSTOMER_API_DOMAIN="api.localhost")
    http = app.test_client()
    with app.app_context():
        account = create_account("Dev")
        client = make_client(account, "demo")
        host = f"demo.{account.account_number}.api.localhost:5000"
        assert chat(http, host).status_code == 200
        # Other *.localhost hosts are platform hosts: allowed, but no client there.
        response = chat(http, "something.localhost")
        assert response.status_code == 404
        path = f"/api/v0/llm-clients/{client.id}/demo/"
        assert chat(http, "localhost:5000", path).status_code == 200


def test_dev_hosts_can_be_switched_off(app, make_app, make_client):
    app = make_app(DEV_HOSTS_ENABLED=False, PLATFORM_HOSTS="chatdock.example.com")
    http = app.test_client()
    with app.app_context():
        account = create_account("Prod")
        client = make_client(account, "demo")
        path = f"/api/v0/llm-clients/{client.id}/demo/"
        assert chat(http, "localhost", path).status_code == 400
        assert chat(http, "chatdock.example.com", path).status_code == 200


def test_probes_answer_on_any_host(http):
    assert http.get("/healthz", headers={"Host": "10.1.2.3:8080"}).status_code == 200
    assert http.get("/readyz", headers={"Host": "10.1.2.3:8080"}).json["status"] == "ready"


def test_a_chat_routed_on_a_stale_index_is_routed_again(app, make_client):
    """The settings read returns a newer stamp than the index the chat was routed with
    (a change made since, here in this process): the request is routed again on a fresh
    index and meets the change, a key now required, then the client undeployed."""
    http = app.test_client()
    account = create_account("Stale")
    client = make_client(account, "stale")
    host = host_of(client)
    assert chat(http, host).status_code == 200  # index built and verified
    make_client(account, "other")  # bumps the stamp: routed again, to the same client
    response = chat(http, host)
    assert response.status_code == 200, response.json
    assert response.json["reply"] == "echo: ping"
    client.require_api_key = True
    db.session.commit()  # bumps the stamp; the index is not rebuilt until a request sees it
    response = chat(http, host)
    assert response.status_code == 401, response.json
    client.deployment_status = DeploymentStatus.UNDEPLOYING
    db.session.commit()
    response = chat(http, host)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "client_not_deployed"
    db.session.delete(client)  # the host is gone: as unknown as any other
    db.session.commit()
    response = chat(http, host)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "unknown_host"


def test_a_chat_routed_again_counts_once_against_the_rate_limit(app, make_app, make_client):
    app = make_app(CHAT_RATE_LIMIT="2/minute")
    http = app.test_client()
    with app.app_context():
        account = create_account("Counted")
        host = host_of(make_client(account, "counted"))
        assert chat(http, host).status_code == 200  # 1 of 2
        make_client(account, "other")  # bumps the stamp: the next chat is routed again
        assert chat(http, host).status_code == 200  # 2 of 2, counted once
        assert chat(http, host).status_code == 429
