"""API keys: required where configured, hashed at rest, scoped to an account and clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiKey, ChatSession
from app.models.common import utcnow
from app.services import api_keys
from app.services.accounts import create_account
from tests.conftest import host_of

BODY = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def locked(account, make_client):
    return make_client(account, "locked", require_api_key=True)


def post(http, client, **headers):
    return http.post("/llm-client/", json=BODY, headers={"Host": host_of(client), **headers})


def sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(ChatSession))


def test_key_opens_the_client_by_either_header(http, account, locked):
    key = api_keys.create_api_key(account).plaintext
    assert post(http, locked, **{"x-api-key": key}).status_code == 200
    assert post(http, locked, Authorization=f"Bearer {key}").status_code == 200


def test_key_is_stored_only_as_a_hash(account):
    issued = api_keys.create_api_key(account, label="ci")
    row = db.session.execute(select(ApiKey)).scalar_one()
    secret = issued.plaintext.split("_", 2)[2]
    assert issued.plaintext.startswith(f"cdk_{row.key_id}_")
    assert secret not in row.secret_hash and len(row.secret_hash) == 64
    for column in ApiKey.__table__.columns:
        assert secret not in str(getattr(row, column.key))


def refused(http, client, key, status, code):
    before = sessions()
    headers = {"x-api-key": key} if key is not None else {}
    response = post(http, client, **headers)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert sessions() == before
    return response


def test_missing_and_malformed_and_wrong_keys(http, account, locked):
    issued = api_keys.create_api_key(account).plaintext
    refused(http, locked, None, 401, "api_key_missing")
    refused(http, locked, "not-a-key", 401, "api_key_invalid")
    tampered = issued[:-4] + ("AAAA" if not issued.endswith("AAAA") else "BBBB")
    refused(http, locked, tampered, 401, "api_key_invalid")
    unknown = "cdk_000000000000_" + "A" * 43
    refused(http, locked, unknown, 401, "api_key_invalid")


def test_revoked_and_expired_keys(http, account, locked):
    revoked = api_keys.create_api_key(account)
    api_keys.revoke_api_key(revoked.api_key.key_id)
    refused(http, locked, revoked.plaintext, 401, "api_key_revoked")
    expired = api_keys.create_api_key(account, expires_in_days=1)
    expired.api_key.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused(http, locked, expired.plaintext, 401, "api_key_expired")


def test_a_key_never_opens_another_accounts_client(http, locked):
    other = create_account("Other")
    foreign = api_keys.create_api_key(other).plaintext
    refused(http, locked, foreign, 403, "api_key_forbidden")


def test_a_scoped_key_opens_only_its_clients(http, account, make_client, locked):
    second = make_client(account, "second", require_api_key=True)
    scoped = api_keys.create_api_key(account, clients=[second]).plaintext
    assert post(http, second, **{"x-api-key": scoped}).status_code == 200
    refused(http, locked, scoped, 403, "api_key_forbidden")


def test_clients_without_key_requirement_ignore_keys(http, demo):
    assert post(http, demo, **{"x-api-key": "whatever"}).status_code == 200


def test_last_used_is_written_at_most_once_per_window(http, account, locked):
    issued = api_keys.create_api_key(account)
    key = issued.plaintext
    assert issued.api_key.last_used_at is None
    assert post(http, locked, **{"x-api-key": key}).status_code == 200
    db.session.expire_all()
    first = db.session.get(ApiKey, issued.api_key.id).last_used_at
    assert first is not None
    assert post(http, locked, **{"x-api-key": key}).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiKey, issued.api_key.id).last_used_at == first


def test_scope_must_stay_in_the_account(account, make_client):
    other_client = make_client(create_account("Other"), "theirs")
    with pytest.raises(Exception, match="another account"):
        api_keys.create_api_key(account, clients=[other_client])


def test_a_scoped_key_never_widens_when_its_clients_are_deleted(
    http, app, account, make_client, locked
):
    """Issue 17, High 1: deleting a key's last client removes its scope rows; the key
    then opens nothing (an empty scope is not "all clients")."""
    doomed = make_client(account, "doomed", require_api_key=True)
    scoped = api_keys.create_api_key(account, clients=[doomed])
    db.session.delete(doomed)  # what deleting the client does to its row
    db.session.commit()
    refused(http, locked, scoped.plaintext, 403, "api_key_forbidden")
    listing = app.test_cli_runner().invoke(
        args=["apikeys", "list", "--account", account.account_number]
    )
    assert scoped.api_key.key_id in listing.output
    assert "no clients (its clients were deleted)" in listing.output
    assert "all clients" not in listing.output


def test_an_account_wide_key_says_so(http, app, account, locked):
    wide = api_keys.create_api_key(account)
    assert wide.api_key.all_clients and wide.api_key.scope_label == "all clients"
    assert post(http, locked, **{"x-api-key": wide.plaintext}).status_code == 200
