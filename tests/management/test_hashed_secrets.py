"""API keys and personal access tokens are found by one helper
(``app.services.hashed_secrets``): a secret is only ever accepted whole, for its own
kind, with its own id; anything else is the same 401, whichever part was wrong."""

from __future__ import annotations

import pytest

from app.models import ApiKey, PersonalAccessToken
from app.services import api_keys, hashed_secrets, tokens
from tests.management.conftest import Tenant


def _forgeries(valid: str, other_kind: str) -> list[str]:
    prefix, key_id, secret = valid.split("_", 2)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    return [
        f"{prefix}_{key_id}_{flipped}",  # a wrong secret for a real id
        f"{prefix}_{'0' * 12}_{secret}",  # the real secret under another id
        f"{valid}x",  # trailing garbage: the whole string must match
        other_kind,  # a valid credential of the other kind
    ]


def test_one_lookup_opens_only_the_credential_itself(tenant_a: Tenant) -> None:
    token = tenant_a.owner_token
    key = api_keys.create_api_key(tenant_a.account, label="other").plaintext
    found = hashed_secrets.find_by_secret(
        f"  {token} ", tokens.TOKEN_RE, PersonalAccessToken, PersonalAccessToken.token_id
    )
    assert found is not None and found.user.email == tenant_a.owner.email
    for forged in _forgeries(token, key):
        assert (
            hashed_secrets.find_by_secret(
                forged, tokens.TOKEN_RE, PersonalAccessToken, PersonalAccessToken.token_id
            )
            is None
        )
    for forged in _forgeries(key, token):
        assert hashed_secrets.find_by_secret(forged, api_keys.KEY_RE, ApiKey, ApiKey.key_id) is None


@pytest.mark.parametrize("which", range(4))
def test_a_forged_token_is_one_401_over_http(api, tenant_a: Tenant, which: int) -> None:
    key = api_keys.create_api_key(tenant_a.account, label="other").plaintext
    forged = _forgeries(tenant_a.owner_token, key)[which]
    response = api(forged)("GET", "/accounts")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_invalid"
    assert forged not in response.get_data(as_text=True)  # never echoed
