"""Connection secrets are encrypted at rest, rotate, and production refuses to run
without a key of its own."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from app.config import InsecureSettings, Settings
from app.secret_box import SecretUnavailable, needs_reseal, reseal, seal, unseal

GOOD_SECRET_KEY = "k" * 40


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_a_sealed_value_holds_no_plaintext_and_opens_again():
    settings = _settings(SECRETS_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    token = seal("hunter2-db-password", settings)
    assert "hunter2" not in token
    assert token != seal("hunter2-db-password", settings)  # random IV: no equality leak
    assert unseal(token, settings) == "hunter2-db-password"


def test_rotation_the_first_key_seals_and_old_keys_still_open():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = _settings(SECRETS_ENCRYPTION_KEYS=old)
    after = _settings(SECRETS_ENCRYPTION_KEYS=f"{new},{old}")
    token = seal("api-key-value", before)
    assert unseal(token, after) == "api-key-value"
    assert needs_reseal(token, after)
    fresh = reseal(token, after)
    assert not needs_reseal(fresh, after)
    assert unseal(fresh, _settings(SECRETS_ENCRYPTION_KEYS=new)) == "api-key-value"
    with pytest.raises(SecretUnavailable, match="cannot be decrypted"):
        unseal(token, _settings(SECRETS_ENCRYPTION_KEYS=new))


def test_development_derives_a_key_from_secret_key():
    dev = _settings()
    assert unseal(seal("x", dev), dev) == "x"
    with pytest.raises(SecretUnavailable):
        unseal(seal("x", dev), _settings(SECRET_KEY="another-secret-key-of-some-length"))


def test_a_malformed_key_is_named_not_echoed():
    settings = _settings(SECRETS_ENCRYPTION_KEYS="not-a-fernet-key")
    with pytest.raises(SecretUnavailable, match="not a Fernet key") as caught:
        seal("x", settings)
    assert "not-a-fernet-key" not in str(caught.value)


def test_production_needs_an_encryption_key():
    with pytest.raises(InsecureSettings, match="SECRETS_ENCRYPTION_KEYS"):
        _settings(ENVIRONMENT="production", SECRET_KEY=GOOD_SECRET_KEY)
    key = Fernet.generate_key().decode()
    assert _settings(
        ENVIRONMENT="production", SECRET_KEY=GOOD_SECRET_KEY, SECRETS_ENCRYPTION_KEYS=key
    )
