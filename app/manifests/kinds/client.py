"""``kind: Client``: every field of ``ClientSpec`` (``app.services.clients``), camelCase,
and the client's per-minute limits (``app.services.limit_settings``: owners only).

The spec model is generated from ClientSpec, so a field added there (``appearance``,
``plugins``) is a manifest field too; nested models give their own camelCase aliases.
Every field is optional: one left out keeps its value, a new client takes the defaults.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import Field, create_model

from app.errors import NotFound
from app.models import Account, AdminUser, LlmClient
from app.services import clients, infra, limit_settings
from app.services.clients import ClientSpec

from .base import CREATED, Outcome, Reference, SpecModel, camel, changed, given

LIMITS = ("requests_per_minute", "tokens_per_minute")


def _fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in ClientSpec.model_fields.items():
        if name != "name":
            fields[name] = (info.annotation, copy.copy(info))
    for name in LIMITS:
        fields[name] = (
            int,
            Field(0, ge=0, le=limit_settings.MAX_RATE, description="0: no limit (owners set it)."),
        )
    return fields


def _split(spec: SpecModel) -> tuple[dict[str, Any], dict[str, int]]:
    """The given ClientSpec fields, and the given limits."""
    values = given(spec)
    return {k: v for k, v in values.items() if k not in LIMITS}, {
        k: v for k, v in values.items() if k in LIMITS
    }


def _limits(client: LlmClient) -> dict[str, int]:
    return {field: getattr(client, field) or 0 for field in LIMITS}


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
        # Through the manifest model: nested fields get their camelCase names too.
        spec = ClientManifestSpec.model_validate(clients.client_settings(client) | _limits(client))
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
        return found

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        client = _find(account, name)
        values, limits = _split(spec)
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
        return changed(list(camel(dict.fromkeys(differ))))

    def apply(self, account: Account, name: str, spec: SpecModel, by: AdminUser | None) -> None:
        client = _find(account, name)
        values, limits = _split(spec)
        if client is None:
            spec_ = clients.parse_spec(name=name, **values)
            client = clients.create_client(account, spec_, commit=False)
        else:
            clients.update_client(client, clients.patched_spec(client, values), commit=False)
        if limits and limits != {k: _limits(client)[k] for k in limits}:
            limit_settings.set_rate_limits(client, **limits, by=by, commit=False)

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None:
        """Deleting a client destroys its infrastructure: a run, as ``flask clients delete``."""
        requested_by = f"manifest:{by.email}" if by is not None else "manifest"
        infra.request_delete(clients.get_client(account, name), requested_by=requested_by)
