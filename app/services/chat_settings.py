"""What a chat request needs to know of its client, read in one Core query, and kept.

Every chat request needs these (the model, the prompt, the limits, the account's budget);
loading the client through the ORM with its account and model joined cost more CPU than
the rest of the request's reads together, and the ORM objects are not needed afterwards.
A web worker keeps them (:class:`ChatSettingsCache`) for as long as PostgreSQL has not
said that any of them changed (:mod:`app.change_feed`), and reads them every time when it
cannot hear that.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, exists, select

from app.change_feed import ChangeFeed
from app.extensions import autocommit_reads, db
from app.models import (
    Account,
    LlmClient,
    LlmModel,
    ProviderConnection,
    RoutingVersion,
    client_plugins,
)
from app.services.llm_models import deprecation_warning
from app.services.provider_connections import ConnectionTarget


@dataclass(frozen=True)
class ChatSettings:
    """A client's chat settings and its account's budget, as plain values."""

    id: int
    name: str
    account_id: int
    provider: str
    model: str
    system_prompt: str
    temperature: float
    max_tokens: int
    timeout_seconds: int  # 0: the platform's LLM_TIMEOUT_SECONDS
    requests_per_minute: int | None
    tokens_per_minute: int | None
    monthly_token_budget: int | None
    model_warning: str | None  # the model is deprecated: what to use instead
    connection: ConnectionTarget | None = None  # the account's own provider, if it has one
    fallbacks: tuple[dict[str, str | None], ...] = ()  # as stored: model, provider, connection
    functions: tuple[str, ...] = ()  # built-in tool functions enabled
    has_plugins: bool = False  # plugins attached (app.services.chat_tools loads them)
    # Publishing: whether browsers must identify their user, and each one's limits.
    identity_mode: str = "off"
    user_requests_per_minute: int | None = None
    user_tokens_per_minute: int | None = None
    # The host index's stamp, read in the same statement: the chat's route is checked
    # against it (app.hosts.StaleHostIndex) instead of by a read of its own.
    routing_version: int = 0


_QUERY = (
    select(
        LlmClient.id,
        LlmClient.name,
        LlmClient.account_id,
        LlmModel.provider.label("provider"),
        LlmModel.name.label("model"),
        LlmClient.system_prompt,
        LlmClient.temperature,
        LlmClient.max_tokens,
        LlmClient.timeout_seconds,
        LlmClient.requests_per_minute,
        LlmClient.tokens_per_minute,
        Account.monthly_token_budget,
        LlmModel.deprecated.label("deprecated"),
        LlmClient.fallbacks,
        ProviderConnection.id.label("connection_id"),
        ProviderConnection.version.label("connection_version"),
        ProviderConnection.type.label("connection_type"),
        ProviderConnection.base_url.label("connection_url"),
        ProviderConnection.api_key_sealed.label("connection_key"),
        LlmClient.functions,
        exists().where(client_plugins.c.client_id == LlmClient.id).label("has_plugins"),
        LlmClient.identity_mode,
        LlmClient.user_requests_per_minute,
        LlmClient.user_tokens_per_minute,
        select(RoutingVersion.version)
        .where(RoutingVersion.id == 1)
        .scalar_subquery()
        .label("routing_version"),
    )
    .join(Account, Account.id == LlmClient.account_id)
    .join(LlmModel, LlmModel.id == LlmClient.llm_model_id)
    .outerjoin(ProviderConnection, ProviderConnection.id == LlmClient.provider_connection_id)
    .where(LlmClient.id == bindparam("client_id"))
)


def load_chat_settings(client_id: int) -> ChatSettings | None:
    """The client's chat settings; None when it no longer exists."""
    autocommit_reads()
    row = db.session.connection().execute(_QUERY, {"client_id": client_id}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    connection = None
    if values.pop("connection_id") is not None:
        connection = ConnectionTarget(
            row.connection_id,
            row.connection_version,
            row.connection_type,
            row.connection_url,
            row.connection_key,
        )
    for name in ("connection_version", "connection_type", "connection_url", "connection_key"):
        del values[name]
    values["fallbacks"] = tuple(values["fallbacks"] or ())
    values["functions"] = tuple(values["functions"] or ())
    values["has_plugins"] = bool(values["has_plugins"])
    values["routing_version"] = values["routing_version"] or 0
    warning = None
    if values.pop("deprecated"):  # rare: build the model only to word its warning
        model = LlmModel(provider=row.provider, name=row.model, deprecated=True)
        warning = deprecation_warning(model)
    return ChatSettings(**values, model_warning=warning, connection=connection)


CHAT_SETTINGS = "chatdock.chat_settings"  # the app's ChatSettingsCache (app.extensions)


class ChatSettingsCache:
    """Each client's :class:`ChatSettings` as last read, trusted while the change feed
    is live and has heard of no change since the read (its generation is the same).

    Bounded: past ``max_entries`` clients the oldest entry makes room (a process serves
    the clients that chat through it, the whole platform's at most)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.feed: ChangeFeed | None = None
        self.max_entries = max_entries
        self._entries: dict[int, ChatSettings] = {}
        self._generation = -1

    def load(self, client_id: int, index_version: int) -> ChatSettings | None:
        """The client's settings; read from the database unless a trusted copy is kept
        whose routing stamp is ``index_version`` (the host index's the request was routed
        with): when the two differ one of them is behind, and a read tells which."""
        feed = self.feed
        if feed is None or not feed.live:
            return load_chat_settings(client_id)
        generation = feed.generation  # before the read: a change during it voids the copy
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
        elif (kept := self._entries.get(client_id)) and kept.routing_version == index_version:
            return kept
        settings = load_chat_settings(client_id)
        if settings is not None and feed.live and feed.generation == generation:
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[client_id] = settings
        return settings
