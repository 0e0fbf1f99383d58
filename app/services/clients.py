"""Creating, finding and changing LLM clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from app.config import current_settings
from app.domains.publish import Appearance, IdentityMode, appearance_of
from app.domains.serving import custom_host_serving_until
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.hosts import default_host, normalize_origin
from app.llm.registry import PROVIDER_NAMES
from app.logging_setup import get_logger
from app.models import (
    Account,
    DeploymentStatus,
    LlmClient,
    LlmModel,
    ProviderConnection,
    ResourceStatus,
)
from app.models.common import utcnow
from app.names import is_client_name
from app.services import audit, provider_connections, tools
from app.services.llm_models import choose_model

log = get_logger("chatdock.clients")


def validate_client_name(name: str) -> str:
    """A DNS label: lower case letters, digits and inner hyphens, 1-63 characters."""
    if not is_client_name(name):
        raise InvalidInput(
            f"invalid client name {name!r}: use a DNS label (lower-case letters, digits and "
            "hyphens, 1-63 characters, not starting or ending with a hyphen)"
        )
    return name


class FallbackSpec(BaseModel):
    """A model tried when the ones before it time out, rate-limit, fail or are down."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    model: str = Field(min_length=1, max_length=128)
    provider_connection: str | None = Field(
        None,
        max_length=63,
        description="A provider connection of the account; none: the platform's.",
    )


class ClientSpec(BaseModel):
    """What an operator may set on a client; shared by the CLI, console and admin API."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(json_schema_extra={"maxLength": 63})  # checked by _name (DNS label)
    provider: str | None = None  # None: the model's provider, else DEFAULT_PROVIDER
    model: str = ""
    system_prompt: str = Field("", max_length=20_000)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=1, le=200_000)
    timeout_seconds: int = Field(
        0,
        ge=0,
        le=600,
        description="Seconds the model has to finish an answer (a stream: its last chunk); "
        "0: the platform's LLM_TIMEOUT_SECONDS.",
    )
    require_api_key: bool = False
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    provider_connection: str | None = Field(None, max_length=63)  # None: the platform's
    fallbacks: list[FallbackSpec] = Field(default_factory=list, max_length=5)
    plugins: list[str] | None = Field(
        None, max_length=100, description="The account's plugins it offers (None: unchanged)."
    )
    functions: list[str] | None = Field(
        None, max_length=10, description="Built-in functions it offers (None: unchanged)."
    )
    # Publishing (docs/publish.md): the chat page's presentation and the widget's visitors.
    appearance: Appearance = Field(default_factory=Appearance)
    identity: IdentityMode = "off"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return validate_client_name(value)
        except InvalidInput as error:  # a ValueError, so pydantic reports every field at once
            raise ValueError(error.message) from None

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str | None) -> str | None:
        if value is not None and value not in PROVIDER_NAMES:
            raise ValueError(
                f"unknown provider {value!r}; choose one of {', '.join(PROVIDER_NAMES)}"
            )
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        normalized = []
        for value in values:
            origin = normalize_origin(value)
            if origin is None or value.rstrip("/").count("/") > 2:
                raise ValueError(f"invalid origin {value!r}: expected scheme://host[:port]")
            normalized.append(origin)
        return sorted(set(normalized))


def parse_spec(**fields: Any) -> ClientSpec:
    """Validate fields into a ClientSpec, turning pydantic's errors into one clear message
    (the same words for the CLI and the console: no "Value error," prefix)."""
    try:
        return ClientSpec(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        details: list[dict[str, Any]] = [
            {**err, "msg": validation_message(err["msg"])}
            for err in exc.errors(include_url=False, include_context=False)
        ]
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}" for err in details
        )
        raise InvalidInput(problems, details=details) from exc


def validation_message(message: str) -> str:
    """Pydantic's message for a validator's ValueError, without its "Value error, "."""
    return message.removeprefix("Value error, ")


def create_client(
    account: Account, spec: ClientSpec, *, deployed: bool = False, commit: bool = True
) -> LlmClient:
    """Create a client. ``deployed`` serves it at once without provisioning infrastructure;
    ``commit=False`` leaves the commit to the caller (a manifest applies a whole file)."""
    model, connection = _model_for(account, spec)
    client = LlmClient(
        account=account,
        name=spec.name,
        llm_model=model,
        provider_connection=connection,
        fallbacks=_fallbacks(account, spec),
        system_prompt=spec.system_prompt,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        timeout_seconds=spec.timeout_seconds,
        require_api_key=spec.require_api_key,
        allowed_origins=spec.allowed_origins,
        **_publish_values(spec),
    )
    if deployed:
        mark_deployed_without_infrastructure(client)
    db.session.add(client)
    try:
        db.session.flush()
        tools.set_client_tools(client, spec.plugins, spec.functions, commit=False)
        audit.record(
            "create",
            "client",
            client.id,
            account_id=account.id,
            changes={"name": (None, client.name), "model": (None, client.model)}
            | {field: (None, getattr(client, field)) for field in EDITABLE_FIELDS}
            | {column: (None, getattr(client, column)) for _, column in PUBLISH_FIELDS},
        )
        if commit:
            db.session.commit()
    except InvalidInput:  # an unknown plugin or function: nothing is created
        if commit:  # else the caller's whole transaction is the caller's to end
            db.session.rollback()
        raise
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(
            f"account {account.account_number} already has a client named {spec.name!r}"
        ) from exc
    if current_settings().LOG_CLIENTS:
        log.info(
            "client_created",
            client_id=client.id,
            client=client.name,
            account=account.account_number,
            status=client.deployment_status.value,
            model=f"{client.provider}/{client.model}",
        )
    return client


EDITABLE_FIELDS = (
    "system_prompt",
    "temperature",
    "max_tokens",
    "timeout_seconds",
    "require_api_key",
    "allowed_origins",
    "fallbacks",
)
# Spec field -> column of the publishing settings (their values are stored as plain JSON).
PUBLISH_FIELDS = (("appearance", "appearance"), ("identity", "identity_mode"))


def _publish_values(spec: ClientSpec) -> dict[str, Any]:
    return {"appearance": spec.appearance.stored(), "identity_mode": spec.identity}


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details=[{"loc": tuple(field.split(".")), "msg": message}])


def _connection(account: Account, name: str | None, field: str) -> ProviderConnection | None:
    if name is None:
        return None
    connection = provider_connections.find_connection(account, name)
    if connection is None:
        raise _refused(
            field, f"account {account.account_number} has no provider connection {name!r}"
        )
    return connection


def _model_for(account: Account, spec: ClientSpec) -> tuple[LlmModel, ProviderConnection | None]:
    """The catalog row for the spec's provider and model (a connection's own model, or
    the catalog's of the connection's type) and the connection; refusals name the field."""
    connection = _connection(account, spec.provider_connection, "provider_connection")
    return _model_on(connection, spec.provider, spec.model, "model"), connection


def _model_on(
    connection: ProviderConnection | None, provider: str | None, name: str, field: str
) -> LlmModel:
    if connection is not None:
        if provider not in (None, connection.type):
            raise _refused(
                "provider", f"connection {connection.name!r} is of type {connection.type}"
            )
        provider = connection.type
        own = provider_connections.connection_model(connection, name) if name else None
        if own is not None:
            return own
    try:
        return choose_model(provider, name)
    except InvalidInput as error:
        raise _refused(field, error.message) from None


def _fallbacks(account: Account, spec: ClientSpec) -> list[dict[str, str | None]]:
    """The fallbacks as stored, each model checked as a client's own model would be."""
    stored = []
    for index, fallback in enumerate(spec.fallbacks):
        path = f"fallbacks.{index}"
        connection = _connection(
            account, fallback.provider_connection, f"{path}.provider_connection"
        )
        model = _model_on(connection, None, fallback.model, f"{path}.model")
        stored.append(
            {
                "model": model.name,
                "provider": model.provider,
                "provider_connection": fallback.provider_connection,
            }
        )
    return stored


def update_client(client: LlmClient, spec: ClientSpec, *, commit: bool = True) -> LlmClient:
    """Change a client's settings (not its name: hosts and workspace derive from it).

    Chat settings apply at the next request; nothing here needs a new deploy."""
    if spec.name != client.name:
        raise InvalidInput(
            "a client's name cannot change (its hosts and workspace derive from it)",
            details=[{"loc": ("name",), "msg": "the name cannot change"}],
        )
    audited = (
        *EDITABLE_FIELDS,
        *(column for _, column in PUBLISH_FIELDS),
        "model",
        "connection",
    )
    before = {field: _audited(client, field) for field in audited}
    account = client.account
    connection = _connection(account, spec.provider_connection, "provider_connection")
    wanted = (spec.provider or client.provider, spec.model, connection)
    # a client on a deprecated model may stay
    if wanted != (client.provider, client.model, client.provider_connection):
        client.llm_model, client.provider_connection = _model_for(account, spec)
    for field in EDITABLE_FIELDS:
        if field != "fallbacks":
            setattr(client, field, getattr(spec, field))
    client.fallbacks = _fallbacks(account, spec)
    for column, value in _publish_values(spec).items():
        setattr(client, column, value)
    changes = {
        field: (before[field], _audited(client, field))
        for field in audited
        if before[field] != _audited(client, field)
    }
    if changes:
        audit.record("update", "client", client.id, account_id=client.account_id, changes=changes)
    tools.set_client_tools(client, spec.plugins, spec.functions, commit=False)
    db.session.flush()
    if commit:
        db.session.commit()
    if current_settings().LOG_CLIENTS:
        log.info("client_updated", client_id=client.id, client=client.name)
    return client


def _audited(client: LlmClient, field: str) -> Any:
    if field == "connection":
        connection = client.provider_connection
        return connection.name if connection is not None else None
    return getattr(client, field)


def client_settings(client: LlmClient) -> dict[str, Any]:
    """What the console, ``PATCH /api/v1/clients/{id}``, ``flask clients update`` and
    manifests change."""
    connection = client.provider_connection
    return {
        "provider": client.provider,
        "model": client.model,
        "system_prompt": client.system_prompt,
        "temperature": client.temperature,
        "max_tokens": client.max_tokens,
        "timeout_seconds": client.timeout_seconds,
        "require_api_key": client.require_api_key,
        "allowed_origins": list(client.allowed_origins or []),
        "provider_connection": connection.name if connection is not None else None,
        "fallbacks": [
            {"model": f["model"], "provider_connection": f.get("provider_connection")}
            for f in client.fallbacks or []
        ],
        "plugins": [plugin.name for plugin in client.plugins],
        "functions": list(client.functions or []),
        "appearance": appearance_of(client.appearance).stored(),
        "identity": client.identity_mode,
    }


def patched_spec(client: LlmClient, patch: dict[str, Any]) -> ClientSpec:
    """The client's settings with the fields of ``patch`` changed (the others keep their
    values). A new provider or connection without a model takes its default model."""
    current = {"name": client.name, **client_settings(client)}
    new_provider = "provider" in patch and patch["provider"] != current["provider"]
    new_connection = (
        "provider_connection" in patch
        and patch["provider_connection"] != current["provider_connection"]
    )
    if (new_provider or new_connection) and "model" not in patch:
        current["model"] = ""  # another provider: its default model
    if new_connection and "provider" not in patch:
        current["provider"] = None  # the connection's type
    return parse_spec(**{**current, **patch})


def patch_client(client: LlmClient, patch: dict[str, Any]) -> LlmClient:
    """Change only the fields in ``patch`` (the name never changes):
    ``PATCH /api/v1/clients/{id}`` and ``flask clients update``."""
    return update_client(client, patched_spec(client, patch))


def mark_deployed_without_infrastructure(client: LlmClient) -> None:
    """Serve a client on its hosts with no Terraform run (wildcard DNS and ingress)."""
    client.deployment_status = DeploymentStatus.DEPLOYED
    client.dns_status = ResourceStatus.UNMANAGED
    client.tls_status = ResourceStatus.UNMANAGED
    client.deployed_at = utcnow()


def client_hosts(client: LlmClient) -> list[str]:
    """Where the client answers, canonical host first: its custom-domain host while that
    domain is served (verified, or lost within the grace period), then its default host."""
    settings = current_settings()
    hosts = [default_host(client.name, client.account.account_number, settings.CUSTOMER_API_DOMAIN)]
    domain = client.custom_domain
    custom = custom_host_serving_until(
        client.name,
        domain.domain if domain is not None else None,
        domain.status if domain is not None else None,
        domain.delegation_lost_at if domain is not None else None,
        timedelta(hours=settings.DOMAIN_GRACE_HOURS),
        client.live_hosts,
        client.dns_status == ResourceStatus.UNMANAGED,
    )
    if custom is not None:
        hosts.insert(0, custom[0])
    return hosts


def get_client(account: Account, name: str) -> LlmClient:
    validate_client_name(name)
    client = db.session.execute(
        select(LlmClient).where(LlmClient.account_id == account.id, LlmClient.name == name)
    ).scalar_one_or_none()
    if client is None:
        raise NotFound(f"account {account.account_number} has no client named {name!r}")
    return client


def clients_query(
    account: Account | None = None, status: DeploymentStatus | None = None
) -> Select[LlmClient]:
    """The clients (of ``account``, in ``status``) by account, then name."""
    query = select(LlmClient).order_by(LlmClient.account_id, LlmClient.name, LlmClient.id)
    if account is not None:
        query = query.where(LlmClient.account_id == account.id)
    if status is not None:
        query = query.where(LlmClient.deployment_status == status)
    return query


def list_clients(
    account: Account | None = None, status: DeploymentStatus | None = None
) -> list[LlmClient]:
    return list(db.session.execute(clients_query(account, status)).scalars())
