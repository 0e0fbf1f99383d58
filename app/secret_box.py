"""Connection secrets at rest: a database password, an API header, a provider key.

Unlike API keys and tokens (stored hashed: chatdock only compares them), these must be
sent on, so they are encrypted (Fernet: AES-128-CBC with an HMAC-SHA256 tag) with the keys
of ``SECRETS_ENCRYPTION_KEYS``. The first key encrypts and every key decrypts, so an
operator rotates by putting a new key first and re-sealing at leisure
(:func:`needs_reseal`). Development without the setting derives a key from SECRET_KEY;
production refuses to start without it (``app.config``).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import Settings, current_settings


class SecretUnavailable(Exception):
    """A sealed value no configured key opens (a key was removed too early)."""


def _keys(settings: Settings) -> tuple[str, ...]:
    configured = tuple(key.get_secret_value() for key in settings.SECRETS_ENCRYPTION_KEYS)
    if configured:
        return configured
    digest = hashlib.sha256(
        b"chatdock secret box\0" + settings.SECRET_KEY.get_secret_value().encode()
    ).digest()
    return (base64.urlsafe_b64encode(digest).decode(),)


@lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise SecretUnavailable(
            "SECRETS_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from None


def seal(plaintext: str, settings: Settings | None = None) -> str:
    """``plaintext`` encrypted with the first key (a URL-safe ASCII token)."""
    box = _box(_keys(settings or current_settings()))
    return box.encrypt(plaintext.encode()).decode()


def unseal(token: str, settings: Settings | None = None) -> str:
    """The plaintext of a sealed value; :class:`SecretUnavailable` if no key opens it."""
    box = _box(_keys(settings or current_settings()))
    try:
        return box.decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "a stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS "
            "(was the key that sealed it removed?)"
        ) from None


def needs_reseal(token: str, settings: Settings | None = None) -> bool:
    """Whether a sealed value was sealed with another key than the current first one."""
    first = Fernet(_keys(settings or current_settings())[0].encode())
    try:
        first.decrypt(token.encode())
    except InvalidToken:
        return True
    return False


def reseal(token: str, settings: Settings | None = None) -> str:
    """The value sealed again with the current first key (rotation)."""
    box = _box(_keys(settings or current_settings()))
    try:
        return box.rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "a stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS"
        ) from None
