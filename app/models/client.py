"""LLM clients: one chatbot of an account, served at its own hosts once deployed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.domain import CustomDomain
    from app.models.llm_model import LlmModel
    from app.models.provider_connection import ProviderConnection
    from app.models.tool import Plugin


class DeploymentStatus(enum.StrEnum):
    """Whether the client is served: it follows the last successful apply and an
    operator's request to stop serving, never a change that is pending or failed (the
    pending change is the client's latest run, see ``app.services.client_state``).

    ``draft``: never deployed or undeployed; ``deploying``: its first deploy is under
    way (not served yet); ``deployed``: served on its live hosts; ``undeploying``: an
    undeploy was asked for, so it is not served while its infrastructure is destroyed."""

    DRAFT = "draft"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    UNDEPLOYING = "undeploying"


class ResourceStatus(enum.StrEnum):
    """State of a client's DNS record or TLS certificate."""

    NONE = "none"
    PENDING = "pending"
    READY = "ready"
    UNMANAGED = "unmanaged"  # served without provisioning (clients create --deployed)
    ERRORED = "errored"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class LlmClient(Model):
    """A chatbot of an account.

    Its model is a row of ``llm_models`` (the catalog), loaded with the client in the
    same query (a joined eager load of a many-to-one), so the chat path still reads a
    client and its model with one primary-key lookup. ``provider`` and ``model`` are read
    from that row rather than copied onto the client: one source of truth, nothing to
    keep in step when a retired model's clients are moved to its replacement.
    """

    __tablename__ = "llm_clients"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_llm_clients_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    llm_model_id: Mapped[int] = mapped_column(
        ForeignKey("llm_models.id", ondelete="RESTRICT"), index=True
    )
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    temperature: Mapped[float] = mapped_column(default=0.7)
    max_tokens: Mapped[int] = mapped_column(default=1024)
    # Seconds the model has to answer; 0: the platform's LLM_TIMEOUT_SECONDS.
    timeout_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    require_api_key: Mapped[bool] = mapped_column(default=False)
    # Rate limits of the client, all callers together (None: none), per minute in Redis.
    requests_per_minute: Mapped[int | None] = mapped_column()
    tokens_per_minute: Mapped[int | None] = mapped_column()
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Publishing (app.services.publish): what the chat page and widget show, how visitors
    # are identified, the identity secret (sealed with app.secret_box, never shown again)
    # and the per-minute limits of each identified user.
    appearance: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    identity_mode: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    identity_secret: Mapped[str | None] = mapped_column(Text)
    user_requests_per_minute: Mapped[int | None] = mapped_column()
    user_tokens_per_minute: Mapped[int | None] = mapped_column()
    # Built-in tool functions the client offers (app.tools.builtins), and its plugins.
    functions: Mapped[list[str]] = mapped_column(JSON, default=list)
    deployment_status: Mapped[DeploymentStatus] = mapped_column(
        _enum(DeploymentStatus, "deployment_status"), default=DeploymentStatus.DRAFT
    )
    dns_status: Mapped[ResourceStatus] = mapped_column(
        _enum(ResourceStatus, "dns_status"), default=ResourceStatus.NONE
    )
    tls_status: Mapped[ResourceStatus] = mapped_column(
        _enum(ResourceStatus, "tls_status"), default=ResourceStatus.NONE
    )
    # What the last look at the covering certificates found (expiry, a failed renewal),
    # and when: tls_status is re-checked on a schedule (app.services.tls).
    tls_detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    tls_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The hosts whose records the last successful apply created: a custom host is served
    # only once it is here (and while its domain is attached and served).
    live_hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_domains.id", ondelete="SET NULL"), index=True
    )
    # The account's own provider (None: the platform's provider settings), and the models
    # tried in turn when the client's own fails: [{"model", "provider_connection"}].
    provider_connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_connections.id", ondelete="RESTRICT"), index=True
    )
    fallbacks: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship(back_populates="clients")
    custom_domain: Mapped[CustomDomain | None] = relationship(back_populates="clients")
    llm_model: Mapped[LlmModel] = relationship(lazy="joined", innerjoin=True)
    provider_connection: Mapped[ProviderConnection | None] = relationship()
    plugins: Mapped[list[Plugin]] = relationship(secondary="client_plugins", order_by="Plugin.name")

    @property
    def provider(self) -> str:
        return self.llm_model.provider

    @property
    def model(self) -> str:
        return self.llm_model.name

    @property
    def is_deployed(self) -> bool:
        return self.deployment_status == DeploymentStatus.DEPLOYED

    def __repr__(self) -> str:
        return f"<LlmClient {self.name} ({self.deployment_status})>"
