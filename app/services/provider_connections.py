"""Provider connections: an account's own OpenAI-compatible server or Anthropic key.

The base URL passes the network guard when saved (``app.netguard.check_url``) and the
adapter's HTTP client checks every connection again at call time; the key is sealed
(``app.secret_box``) and only ever shown as set/unset. A connection's extra model names
become ``llm_models`` rows that belong to it, so the catalog still decides what a
client may use, and only that account's clients see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel
from sqlalchemy import or_, select

from app import secret_box
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.llm.catalog import CATALOG
from app.models import Account, LlmClient, LlmModel, ProviderConnection
from app.names import is_client_name
from app.netguard import NetworkRefused, allowed_networks, check_url
from app.services import audit
from app.services.llm_models import MODEL_NAME_RE


class ConnectionSpec(BaseModel):
    """What an operator declares (camelCase in manifests); ``api_key`` is write-only."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    type: Literal["openai", "anthropic"]
    base_url: str = Field("", max_length=500, description="Empty: the provider's own API.")
    api_key: SecretStr | None = Field(
        None, description="Write-only; read back as status.apiKey: set|unset."
    )
    models: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Model names this server serves beyond the catalog's (vLLM, Ollama).",
    )


@dataclass(frozen=True)
class ConnectionTarget:
    """What the chat path needs to reach a connection, as plain values: the adapter is
    cached by (id, version), and the key is unsealed only when one is built."""

    id: int
    version: int
    type: str
    base_url: str
    sealed_key: str


def target(connection: ProviderConnection) -> ConnectionTarget:
    return ConnectionTarget(
        connection.id,
        connection.version,
        connection.type,
        connection.base_url,
        connection.api_key_sealed,
    )


def targets_by_name(account_id: int, names: set[str]) -> dict[str, ConnectionTarget]:
    """The account's connections of these names (one query; the chat path's fallbacks)."""
    if not names:
        return {}
    rows = db.session.execute(
        select(ProviderConnection).where(
            ProviderConnection.account_id == account_id, ProviderConnection.name.in_(names)
        )
    ).scalars()
    return {row.name: target(row) for row in rows}


def get_connection(account: Account, name: str) -> ProviderConnection:
    connection = find_connection(account, name)
    if connection is None:
        raise NotFound(f"account {account.account_number} has no provider connection {name!r}")
    return connection


def find_connection(account: Account, name: str) -> ProviderConnection | None:
    return db.session.execute(
        select(ProviderConnection).where(
            ProviderConnection.account_id == account.id, ProviderConnection.name == name
        )
    ).scalar_one_or_none()


def list_connections(account: Account) -> list[ProviderConnection]:
    return list(
        db.session.execute(
            select(ProviderConnection)
            .where(ProviderConnection.account_id == account.id)
            .order_by(ProviderConnection.name)
        ).scalars()
    )


def connection_models(connection: ProviderConnection) -> list[str]:
    return list(
        db.session.execute(
            select(LlmModel.name)
            .where(LlmModel.provider_connection_id == connection.id)
            .order_by(LlmModel.name)
        ).scalars()
    )


def check_spec(spec: ConnectionSpec) -> None:
    """Refuse a base URL the network guard refuses, or a model name that is not one (or
    that the catalog already lists for that provider: use the catalog's)."""
    if spec.base_url:
        try:
            check_url(spec.base_url, allowed_networks())
        except NetworkRefused as error:
            raise _field("baseUrl", f"refused: {error}") from None
    for index, name in enumerate(spec.models):
        if not MODEL_NAME_RE.fullmatch(name):
            raise _field(f"models.{index}", f"invalid model name {name!r}")
        if CATALOG.find(spec.type, name) is not None or CATALOG.is_retired(spec.type, name):
            # the catalog's (its sync and retirement key rows by provider and name)
            raise _field(f"models.{index}", f"{spec.type}/{name} is the catalog's model")


def _field(path: str, message: str) -> InvalidInput:
    return InvalidInput(message, details=[{"loc": tuple(path.split(".")), "msg": message}])


def differences(connection: ProviderConnection, spec: ConnectionSpec) -> list[str]:
    """The fields (camelCase) the spec would change; a key left out keeps its value."""
    changed = []
    given = spec.model_fields_set
    if "type" in given and spec.type != connection.type:
        changed.append("type")
    if "base_url" in given and spec.base_url != connection.base_url:
        changed.append("baseUrl")
    if spec.api_key is not None and not _same_key(connection, spec.api_key.get_secret_value()):
        changed.append("apiKey")
    if "models" in given and sorted(set(spec.models)) != connection_models(connection):
        changed.append("models")
    return changed


def _same_key(connection: ProviderConnection, key: str) -> bool:
    if not connection.api_key_sealed:
        return key == ""
    try:
        return secret_box.unseal(connection.api_key_sealed) == key
    except secret_box.SecretUnavailable:
        return False


def save_connection(
    account: Account, name: str, spec: ConnectionSpec, *, commit: bool = True
) -> ProviderConnection:
    """Create the connection or change the fields the spec gives (the others keep their
    value); one audit event, which records the key only as set/unset."""
    if not is_client_name(name):
        raise _field("name", f"{name!r} is not a name: a DNS label (a-z, 0-9, inner -)")
    check_spec(spec)
    connection = find_connection(account, name)
    created = connection is None
    if connection is None:
        connection = ProviderConnection(account_id=account.id, name=name, type=spec.type)
        db.session.add(connection)
        db.session.flush()
        before: dict[str, object] = {}
    else:
        if spec.type != connection.type and _users(connection):
            raise _field("type", "clients use this connection: its type cannot change")
        before = shown(connection)
    given = spec.model_fields_set
    if created or "type" in given:
        connection.type = spec.type
    if created or "base_url" in given:
        connection.base_url = spec.base_url
    key = spec.api_key.get_secret_value() if spec.api_key is not None else None
    key_changed = key is not None and (created or not _same_key(connection, key))
    if key_changed:
        connection.api_key_sealed = secret_box.seal(key) if key else ""
    if created or "models" in given:
        _set_models(connection, sorted(set(spec.models)))
    db.session.flush()
    after = shown(connection)
    changes = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    if key_changed and "apiKey" not in changes:
        changes["apiKey"] = ("set", "replaced")  # a new key; never its value
    if changes:
        if not created:
            connection.version += 1
        audit.record(
            "create" if created else "update",
            "provider_connection",
            connection.id,
            account_id=account.id,
            changes=changes,
        )
    if commit:
        db.session.commit()
    return connection


def shown(connection: ProviderConnection) -> dict[str, object]:
    """The connection as people may see it: the key only as set/unset."""
    return {
        "type": connection.type,
        "baseUrl": connection.base_url,
        "apiKey": "set" if connection.api_key_sealed else "unset",
        "models": connection_models(connection),
    }


def _set_models(connection: ProviderConnection, names: list[str]) -> None:
    rows = {
        row.name: row
        for row in db.session.execute(
            select(LlmModel).where(LlmModel.provider_connection_id == connection.id)
        ).scalars()
    }
    for name, row in rows.items():
        if name in names and row.provider == connection.type:
            continue
        user = db.session.execute(
            select(LlmClient.name).where(LlmClient.llm_model_id == row.id).limit(1)
        ).scalar_one_or_none()
        if user is not None:
            raise _field("models", f"client {user!r} uses model {name!r}")
        db.session.delete(row)
    db.session.flush()
    for name in names:
        if name not in rows or rows[name].provider != connection.type:
            db.session.add(
                LlmModel(provider=connection.type, name=name, provider_connection_id=connection.id)
            )


def _users(connection: ProviderConnection) -> list[str]:
    """The clients that use the connection, as their own or in their fallbacks."""
    clients = db.session.execute(
        select(LlmClient).where(
            LlmClient.account_id == connection.account_id,
            or_(
                LlmClient.provider_connection_id == connection.id,
                LlmClient.fallbacks.is_not(None),
            ),
        )
    ).scalars()
    return sorted(
        client.name
        for client in clients
        if client.provider_connection_id == connection.id
        or any(f.get("provider_connection") == connection.name for f in client.fallbacks or [])
    )


def delete_connection(account: Account, name: str, *, commit: bool = True) -> None:
    connection = get_connection(account, name)
    users = _users(connection)
    if users:
        raise Conflict(f"provider connection {name!r} is used by client(s) {', '.join(users)}")
    audit.record("delete", "provider_connection", connection.id, account_id=account.id)
    db.session.delete(connection)
    db.session.flush()
    if commit:
        db.session.commit()


def connection_model(connection: ProviderConnection, name: str) -> LlmModel | None:
    """The connection's own model of that name, if it has one."""
    return db.session.execute(
        select(LlmModel).where(
            LlmModel.provider_connection_id == connection.id, LlmModel.name == name
        )
    ).scalar_one_or_none()
