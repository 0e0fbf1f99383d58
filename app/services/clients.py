"""Creating, finding and changing LLM clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
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
    ResourceStatus,
)
from app.models.common import utcnow
from app.names import is_client_name
from app.services import audit
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


def create_client(account: Account, spec: ClientSpec, *, deployed: bool = False) -> LlmClient:
    """Create a client. ``deployed`` serves it at once without provisioning infrastructure."""
    client = LlmClient(
        account=account,
        name=spec.name,
        llm_model=_model_for(spec),
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
        audit.record(
            "create",
            "client",
            client.id,
            account_id=account.id,
            changes={"name": (None, client.name), "model": (None, client.model)}
            | {field: (None, getattr(client, field)) for field in EDITABLE_FIELDS}
            | {column: (None, getattr(client, column)) for _, column in PUBLISH_FIELDS},
        )
        db.session.commit()
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
)
# Spec field -> column of the publishing settings (their values are stored as plain JSON).
PUBLISH_FIELDS = (("appearance", "appearance"), ("identity", "identity_mode"))


def _publish_values(spec: ClientSpec) -> dict[str, Any]:
    return {"appearance": spec.appearance.stored(), "identity_mode": spec.identity}


def _model_for(spec: ClientSpec) -> LlmModel:
    """The catalog row for the spec's provider and model; its refusal names the field."""
    try:
        return choose_model(spec.provider, spec.model)
    except InvalidInput as error:
        raise InvalidInput(
            error.message, details=[{"loc": ("model",), "msg": error.message}]
        ) from None


def update_client(client: LlmClient, spec: ClientSpec) -> LlmClient:
    """Change a client's settings (not its name: hosts and workspace derive from it).

    Chat settings apply at the next request; nothing here needs a new deploy."""
    if spec.name != client.name:
        raise InvalidInput(
            "a client's name cannot change (its hosts and workspace derive from it)",
            details=[{"loc": ("name",), "msg": "the name cannot change"}],
        )
    audited = (*EDITABLE_FIELDS, *(column for _, column in PUBLISH_FIELDS), "model")
    before = {field: getattr(client, field) for field in audited}
    wanted = (spec.provider or client.provider, spec.model)
    if wanted != (client.provider, client.model):  # a client on a deprecated model may stay
        client.llm_model = _model_for(spec)
    for field in EDITABLE_FIELDS:
        setattr(client, field, getattr(spec, field))
    for column, value in _publish_values(spec).items():
        setattr(client, column, value)
    changes = audit.field_changes(client, audited, before)
    if changes:
        audit.record("update", "client", client.id, account_id=client.account_id, changes=changes)
    db.session.commit()
    if current_settings().LOG_CLIENTS:
        log.info("client_updated", client_id=client.id, client=client.name)
    return client


def client_settings(client: LlmClient) -> dict[str, Any]:
    """What the console, ``PATCH /api/v1/clients/{id}`` and ``flask clients update`` change."""
    return {
        "provider": client.provider,
        "model": client.model,
        "system_prompt": client.system_prompt,
        "temperature": client.temperature,
        "max_tokens": client.max_tokens,
        "timeout_seconds": client.timeout_seconds,
        "require_api_key": client.require_api_key,
        "allowed_origins": list(client.allowed_origins or []),
        "appearance": appearance_of(client.appearance).stored(),
        "identity": client.identity_mode,
    }


def patch_client(client: LlmClient, patch: dict[str, Any]) -> LlmClient:
    """Change only the fields in ``patch`` (the others keep their values; the name never
    changes): ``PATCH /api/v1/clients/{id}`` and ``flask clients update``. A new provider
    without a model takes that provider's default model."""
    current = {"name": client.name, **client_settings(client)}
    if "provider" in patch and "model" not in patch:
        current["model"] = ""  # another provider: its default model
    return update_client(client, parse_spec(**{**current, **patch}))


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
