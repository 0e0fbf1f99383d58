"""API keys: generation (shown once), hashed storage, authentication and revocation.

A key looks like ``cdk_<key_id>_<secret>``. ``key_id`` (12 hex characters) is public:
it finds the row and names the key in listings and ``apikeys revoke``. Only a SHA-256
of the 256-bit random secret is stored; a fast hash is right for a high-entropy
secret (there is nothing to brute-force), and the comparison is constant-time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, update

from app.config import current_settings
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.extensions import autocommit_reads, db
from app.hosts import ClientRoute
from app.models import Account, ApiKey, LlmClient, api_key_clients
from app.models.common import utcnow
from app.names import has_control_characters
from app.services import audit, hashed_secrets

KEY_PREFIX = "cdk_"
KEY_RE = re.compile(r"cdk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")  # fullmatch
KEY_ID_RE = re.compile(r"[0-9a-f]{12}")
MAX_LABEL = 200


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: ``plaintext`` exists only here, never in the database."""

    api_key: ApiKey
    plaintext: str


def create_api_key(
    account: Account,
    clients: list[LlmClient] | None = None,
    expires_in_days: int | None = None,
    label: str = "",
) -> IssuedKey:
    """Issue a key for ``account``, limited to ``clients`` when given."""
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("expires-in-days must be between 1 and 3650")
    label = check_label(label)
    seen: set[int] = set()
    for client in clients or ():
        if client.account_id != account.id:
            raise InvalidInput(f"client {client.name!r} belongs to another account")
        if client.id in seen:
            raise InvalidInput(f"client {client.name!r} is listed twice: name each client once")
        seen.add(client.id)
    key_id, secret = hashed_secrets.new_secret()
    api_key = ApiKey(
        key_id=key_id,
        secret_hash=hashed_secrets.digest(secret),
        account=account,
        label=label,
        all_clients=not clients,
        clients=list(clients or ()),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(api_key)
    audit.record(
        "create",
        "api_key",
        key_id,
        account_id=account.id,
        changes={
            "label": (None, api_key.label),
            "clients": (None, sorted(c.name for c in api_key.clients)),
            "expires_at": (None, api_key.expires_at),
        },
    )
    db.session.commit()
    return IssuedKey(api_key=api_key, plaintext=f"{KEY_PREFIX}{key_id}_{secret}")


def check_label(label: str) -> str:
    """The label as stored (trimmed), or a clear error: listings print it on one line,
    so escape sequences, newlines and direction overrides are refused."""
    label = (label or "").strip()
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"the label must be at most {MAX_LABEL} characters")
    if has_control_characters(label):
        raise InvalidInput(
            "the label must not contain control characters (escape sequences, newlines, "
            "tabs, direction overrides): it is shown on one line"
        )
    return label


def api_keys_query(account: Account) -> Select[ApiKey]:
    return select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id)


def list_api_keys(account: Account) -> list[ApiKey]:
    return list(db.session.execute(api_keys_query(account)).scalars())


def parse_key_id(key_id: str) -> str:
    """The 12-hex key id of a key id or a whole key (its first part), or a clear error."""
    key_id = key_id.strip().removeprefix(KEY_PREFIX).split("_")[0]
    if not KEY_ID_RE.fullmatch(key_id):
        raise InvalidInput(f"invalid key id {key_id!r}: expected 12 hex characters")
    return key_id


def find_api_key(key_id: str) -> ApiKey | None:
    """The key with exactly this key id, if any."""
    return db.session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()


def revoke_api_key(key_id: str) -> tuple[ApiKey, bool]:
    """Revoke a key at once; the flag says whether this call revoked it (False: it
    already was, and its revocation time is kept)."""
    key_id = parse_key_id(key_id)
    api_key = find_api_key(key_id)
    if api_key is None:
        raise NotFound(f"no API key {key_id}")
    if api_key.revoked_at is not None:
        return api_key, False
    api_key.revoked_at = utcnow()
    audit.record(
        "revoke",
        "api_key",
        api_key.key_id,
        account_id=api_key.account_id,
        changes={"revoked_at": (None, api_key.revoked_at)},
    )
    db.session.commit()
    return api_key, True


def key_status(api_key: ApiKey, now: datetime | None = None) -> str:
    now = now or utcnow()
    if api_key.revoked_at:
        return "revoked"
    if api_key.expires_at and api_key.expires_at <= now:
        return "expired"
    return "active"


def authenticate(raw_key: str | None, route: ClientRoute) -> ApiKey | None:
    """The key that opens ``route``'s client, or a 401/403 saying why not.

    Clients that do not require a key ignore any key sent (the OpenAI SDK always sends
    one), so this returns None for them.
    """
    if not route.require_api_key:
        return None
    if not raw_key:
        raise Unauthorized(
            "this client requires an API key: send it as 'x-api-key: <key>' or "
            "'Authorization: Bearer <key>'",
            code="api_key_missing",
        )
    autocommit_reads()  # a chat's reads: no transaction (app.extensions)
    api_key = hashed_secrets.find_by_secret(raw_key, KEY_RE, ApiKey, ApiKey.key_id)
    if api_key is None:
        raise Unauthorized("invalid API key", code="api_key_invalid")
    status = key_status(api_key)
    if status != "active":
        raise Unauthorized(f"API key {api_key.key_id} is {status}", code=f"api_key_{status}")
    if api_key.account_id != route.account_id:
        raise Forbidden("this API key does not open this client", code="api_key_forbidden")
    if not api_key.all_clients and not _in_scope(api_key, route.client_id):
        raise Forbidden("this API key is limited to other clients", code="api_key_forbidden")
    _touch_last_used(api_key)
    return api_key


def _in_scope(api_key: ApiKey, client_id: int) -> bool:
    """A scoped key opens only the clients still listed (none once they are all deleted)."""
    row = db.session.execute(
        select(api_key_clients.c.client_id)
        .where(api_key_clients.c.api_key_id == api_key.id)
        .where(api_key_clients.c.client_id == client_id)
    ).first()
    return row is not None


def _touch_last_used(api_key: ApiKey) -> None:
    """Record use at most once per resolution window, not a write on every request."""
    now = utcnow()
    resolution = timedelta(seconds=current_settings().API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is not None and now - api_key.last_used_at < resolution:
        return
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == api_key.id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - resolution))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
