"""Secrets stored so they can be read back (not hashed): sealed with Fernet.

Stand-in with the lead's interface (``seal``, ``unseal``, ``SecretUnavailable``) until
the shared module lands on main: a key derived from SECRET_KEY. The shared module
(MultiFernet over SECRETS_ENCRYPTION_KEYS) replaces this file at merge."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from app.config import current_settings


class SecretUnavailable(Exception):
    """A sealed value no configured key can open."""


def _fernet() -> Fernet:
    secret = current_settings().SECRET_KEY.get_secret_value().encode()
    key = hashlib.sha256(b"chatdock.secret_box:" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnavailable("the sealed value cannot be decrypted with any key") from error
