"""``kind: Client``: every field of ``ClientSpec`` (``app.services.clients``), camelCase;
the client's per-minute limits (``app.services.limit_settings``: owners only); and its
custom domain (``app.services.domains``: attaching it to a live client is a run that
waits for review, made once the file's settings are committed).

The spec model is generated from ClientSpec, so a field added there (``appearance``,
``plugins``) is a manifest field too; nested models give their own camelCase aliases.
Every field is optional: one left out keeps its value, a new client takes the defaults.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import Field, create_model

from app.domains.publish import ManifestAppearance
from app.errors import InvalidInput, NotFound
from app.models import Account, AdminUser, CustomDomain, LlmClient
from app.services import clients, domains, infra, limit_settings
from app.services.clients import ClientSpec

from ..problems import did_you_mean
from .base import CREATED, AfterCommit, Outcome, Reference, SpecModel, camel, changed, given

LIMITS = ("requests_per_minute", "tokens_per_minute")
DOMAIN = "custom_domain"
OWN = (*LIMITS, DOMAIN)  # not ClientSpec's: set through their own services
UNCHANGED: Any = object()  # a field left out


def _fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in ClientSpec.model_fields.items():
        if name != "name":
            fields[name] = (info.annotation, copy.copy(info))
    # The API's presentation is snake_case; a manifest's, camelCase like the rest of it.
    fields["appearance"] = (ManifestAppearance, Field(default_factory=ManifestAppearance))
    for name in LIMITS:
        fields[name] = (
            int,
            Field(0, ge=0, le=limit_settings.MAX_RATE, description="0: no limit (owners set it)."),
        )
    fields[DOMAIN] = (
        str | None,
        Field(
            None,
            max_length=253,
            description="A custom domain of the account to serve the client at too (null: "
            "none); a live client's change is a run that waits for review.",
        ),
    )
    return fields


ClientManifestSpec: type[SpecModel] = create_model(
    "ClientManifestSpec",
    __base__=SpecModel,
    __doc__="A client's settings; a field left out keeps its value.",
    **_fields(),
)


def _find(account: Account, name: str) -> LlmClient | None:
    try:
        return clients.get_client(account, name)
    except NotFound:
        return None


def _split(spec: SpecModel) -> tuple[dict[str, Any], dict[str, int], Any]:
    """The given ClientSpec fields, the given limits, the given domain (or UNCHANGED)."""
    values = given(spec)
    limits = {k: values.pop(k) for k in LIMITS if k in values}
    return values, limits, values.pop(DOMAIN, UNCHANGED)


def _limits(client: LlmClient) -> dict[str, int]:
    return {field: getattr(client, field) or 0 for field in LIMITS}


def _domain(account: Account, raw: Any) -> Any:
    """The account's domain of that name (None: none, UNCHANGED: left out); refused
    with the nearest of the account's domains."""
    if raw is None or raw is UNCHANGED:
        return raw
    try:
        return domains.get_domain(raw, account)
    except (NotFound, InvalidInput):
        names = [d.domain for d in domains.list_domains(account)]
        message = f"account {account.account_number} has no custom domain {raw!r}"
        message += did_you_mean(raw, names)
        raise InvalidInput(message, details=[{"loc": (DOMAIN,), "msg": message}]) from None


class ClientKind:
    name: ClassVar[str] = "Client"
    order: ClassVar[int] = 30
    spec_model: ClassVar[type[SpecModel]] = ClientManifestSpec

    def names(self, account: Account) -> list[str]:
        return [client.name for client in clients.list_clients(account)]

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        client = _find(account, name)
        if client is None:
            return None
        domain = client.custom_domain.domain if client.custom_domain is not None else None
        # Through the manifest model: nested fields get their camelCase names too.
        spec = ClientManifestSpec.model_validate(
            clients.client_settings(client) | _limits(client) | {DOMAIN: domain}
        )
        shown = spec.model_dump(by_alias=True, mode="json")
        return shown, {"deployment": client.deployment_status.value}

    def references(self, spec: SpecModel) -> list[Reference]:
        values = given(spec)
        found = []
        if values.get("provider_connection"):
            found.append(
                Reference("providerConnection", "ProviderConnection", values["provider_connection"])
            )
        for index, fallback in enumerate(values.get("fallbacks") or []):
            if fallback.get("provider_connection"):
                found.append(
                    Reference(
                        f"fallbacks.{index}.providerConnection",
                        "ProviderConnection",
                        fallback["provider_connection"],
                    )
                )
        # ClientSpec's plugins (issue "Tools"), by name, once that field and kind exist
        for index, plugin in enumerate(values.get("plugins") or []):
            found.append(Reference(f"plugins.{index}", "Plugin", str(plugin)))
        return found

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        client = _find(account, name)
        values, limits, raw_domain = _split(spec)
        domain = _domain(account, raw_domain)
        if client is None:
            clients.parse_spec(name=name, **values)
            return CREATED
        wanted = clients.patched_spec(client, values)
        current = clients.client_settings(client)
        after = wanted.model_dump()
        differ = []
        for field in values:
            if field in ("provider", "model"):
                same = (wanted.provider or client.provider, wanted.model) == (
                    client.provider,
                    client.model,
                )
            else:
                same = after[field] == current.get(field)
            if not same:
                differ.append(field)
        current_limits = _limits(client)
        differ += [field for field, value in limits.items() if value != current_limits[field]]
        if domain is not UNCHANGED and domain != client.custom_domain:
            differ.append(DOMAIN)
        return changed(list(camel(dict.fromkeys(differ))))

    def apply(
        self, account: Account, name: str, spec: SpecModel, by: AdminUser | None
    ) -> AfterCommit | None:
        client = _find(account, name)
        values, limits, raw_domain = _split(spec)
        domain = _domain(account, raw_domain)
        if client is None:
            spec_ = clients.parse_spec(name=name, **values)
            client = clients.create_client(account, spec_, commit=False)
        else:
            clients.update_client(client, clients.patched_spec(client, values), commit=False)
        if limits and limits != {k: _limits(client)[k] for k in limits}:
            limit_settings.set_rate_limits(client, **limits, by=by, commit=False)
        if domain is UNCHANGED or domain == client.custom_domain:
            return None
        return _attaching(account, name, domain)

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None:
        """Deleting a client destroys its infrastructure: a run, as ``flask clients delete``."""
        requested_by = f"manifest:{by.email}" if by is not None else "manifest"
        infra.request_delete(clients.get_client(account, name), requested_by=requested_by)


def _attaching(account: Account, name: str, domain: CustomDomain | None) -> AfterCommit:
    """Attach (or detach) the domain once the settings are committed, as ``flask domains
    attach`` does: a live client's hosts change through a run that waits for review."""

    def step() -> str:
        client = clients.get_client(account, name)
        if domain is None:
            run, what = domains.detach_client(client), "custom domain detached"
        else:
            run, what = domains.attach_client(domain, client), f"attached to {domain.domain}"
        if run is None:
            return f"Client/{name}: {what}"
        return f"Client/{name}: {what}; run {run.id} ({run.status.value}) waits for review"

    return step
