"""``kind: Client``: every field of ``ClientSpec`` (``app.services.clients``), camelCase.

The spec model is generated from ClientSpec, so a field added there (``appearance``,
``plugins``) is a manifest field too; nested models give their own camelCase aliases.
Every field is optional: one left out keeps its value, a new client takes the defaults.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import create_model

from app.errors import NotFound
from app.models import Account, LlmClient
from app.services import clients, infra
from app.services.clients import ClientSpec

from .base import CREATED, Outcome, Reference, SpecModel, camel, changed, given


def _fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in ClientSpec.model_fields.items():
        if name != "name":
            fields[name] = (info.annotation, copy.copy(info))
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
        spec = ClientManifestSpec.model_validate(clients.client_settings(client))
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
        values = given(spec)
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
        return changed(list(camel(dict.fromkeys(differ))))

    def apply(self, account: Account, name: str, spec: SpecModel) -> None:
        client = _find(account, name)
        values = given(spec)
        if client is None:
            clients.create_client(account, clients.parse_spec(name=name, **values), commit=False)
        else:
            clients.update_client(client, clients.patched_spec(client, values), commit=False)

    def delete(self, account: Account, name: str) -> None:
        """Deleting a client destroys its infrastructure: a run, as ``flask clients delete``."""
        infra.request_delete(clients.get_client(account, name), requested_by="manifest")
