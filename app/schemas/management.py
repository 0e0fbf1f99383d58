"""Request and response bodies of the management API (``/api/v1/``): the OpenAPI
document's schemas are generated from these models."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.domains.publish import Appearance, IdentityMode
from app.services.clients import ClientSpec

Item = TypeVar("Item")
ObjectId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class Page(BaseModel, Generic[Item]):
    """One page of a list: ``?page=`` (from 1) and ``?per_page=`` (1-200, default 50)."""

    items: list[Item]
    page: int
    per_page: int
    total: int


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- accounts and members -------------------------------------------------------------


class AccountOut(BaseModel):
    id: int
    account_number: str
    name: str
    contact_email: str | None
    role: Literal["admin", "owner", "member"] = Field(description="The caller's role here.")
    created_at: datetime


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    contact_email: str | None = Field(None, max_length=254)


class MemberOut(BaseModel):
    id: int
    user_id: int
    email: str
    role: Literal["owner", "member"]
    created_at: datetime
    last_seen_at: datetime | None = Field(
        description="When the user last signed in, used the console or a token (to 5 minutes)."
    )


class InvitationIn(Strict):
    email: str = Field(max_length=254)
    role: Literal["owner", "member"] = "member"


class InvitationOut(BaseModel):
    """The invitation; the link is emailed to the invitee (when email is configured)."""

    id: int
    email: str
    role: Literal["owner", "member"]
    expires_at: datetime
    accept_url: str | None = Field(
        description="The single-use link, in this answer only (null in a replay): pass it on."
    )


class InvitationInfo(BaseModel):
    """An invitation as owners list it (never its link: only the invitee has that)."""

    id: int
    email: str
    role: Literal["owner", "member"]
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class RoleIn(Strict):
    role: Literal["owner", "member"]


# --- clients --------------------------------------------------------------------------


class PendingChangeOut(BaseModel):
    run_id: int
    kind: str
    status: str
    error: str
    text: str


class ClientOut(BaseModel):
    """A client: what is served now (``serving``) apart from the change pending."""

    id: int
    account_id: int
    name: str
    provider: str
    model: str
    system_prompt: str
    temperature: float
    max_tokens: int
    timeout_seconds: int
    require_api_key: bool
    allowed_origins: list[str]
    appearance: Appearance
    identity: IdentityMode
    identity_secret: Literal["set", "unset"] = Field(
        description="Whether an identity secret exists (its value is shown once, when made)."
    )
    user_requests_per_minute: int | None
    user_tokens_per_minute: int | None
    status: str
    serving: bool
    serving_hosts: list[str]
    serving_since: datetime | None
    serving_text: str
    pending_change: PendingChangeOut | None
    custom_domain_id: int | None
    created_at: datetime


def _spec_fields(*, optional: bool, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """ClientSpec's fields with their types, defaults and limits: the service's model is
    the one source of truth. Its validators are not copied: the route hands the body to
    ``clients.parse_spec``, which runs them and words their errors."""
    fields: dict[str, Any] = {}
    for name, info in ClientSpec.model_fields.items():
        if name in exclude:
            continue
        annotation: Any = info.annotation
        if optional:
            info = copy.copy(info)  # the limits stay; absent means "unchanged"
            info.default, info.default_factory = None, None
            fields[name] = (annotation | None, info)
        else:
            fields[name] = (annotation, info)
    return fields


ClientIn = create_model(
    "ClientIn", __base__=Strict, __doc__="A new client.", **_spec_fields(optional=False)
)
ClientPatch = create_model(
    "ClientPatch",
    __base__=Strict,
    __doc__="Only the fields sent change; the name never does.",
    **_spec_fields(optional=True, exclude=frozenset({"name"})),
)


class IdentitySecretOut(BaseModel):
    """Shown once: the customer's server signs its user ids with it (docs/publish.md)."""

    client_id: int
    identity_secret: str


class OriginUsageOut(BaseModel):
    origin: str = Field(description="The embedding site or browser origin; (none): servers.")
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    refused_budget: int
    refused_rate: int


class ClientUsageOut(BaseModel):
    """This month's usage of one client by browser origin."""

    client_id: int
    since: date
    origins: list[OriginUsageOut]


class AttachIn(Strict):
    domain_id: ObjectId | None = Field(
        description="The domain to serve the client at; null detaches."
    )


# --- API keys -------------------------------------------------------------------------


class ApiKeyOut(BaseModel):
    id: int
    key_id: str
    label: str
    status: Literal["active", "revoked", "expired"]
    client_ids: list[int]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str | None = Field(
        description="The key itself: in this answer only (null in an Idempotency-Key replay)."
    )


class ApiKeyIn(Strict):
    label: str = Field("", max_length=200)
    client_ids: list[ObjectId] = Field(default_factory=list, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


# --- domains, runs, models, notifications ---------------------------------------------


class DomainOut(BaseModel):
    id: int
    account_id: int
    domain: str
    status: str
    name_servers: list[str] = Field(description="The NS records to set at the registrar.")
    verified_at: datetime | None
    last_checked_at: datetime | None
    last_check_result: str
    next_check_at: datetime | None
    client_ids: list[int]


class DomainIn(Strict):
    domain: str = Field(max_length=253)


class RunOut(BaseModel):
    id: int
    kind: str
    status: str
    account_number: str
    target_name: str
    client_id: int | None
    domain_id: int | None
    plan_summary: dict[str, Any] | None
    error: str
    note: str
    requested_by: str
    approved_by: str | None
    created_at: datetime
    finished_at: datetime | None


class RunLog(BaseModel):
    id: int
    status: str
    log: str


class ModelOut(BaseModel):
    id: int
    provider: str
    name: str
    token_limit: int | None
    deprecated: bool
    is_default: bool
    replacement: str | None
    clients: int = Field(description="Clients (of every account) using the model.")


class NotificationOut(BaseModel):
    id: int
    kind: str
    subject: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
