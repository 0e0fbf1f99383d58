"""``kind: ProviderConnection``: an account's own OpenAI-compatible server or Anthropic
key (``app.services.provider_connections``). The key is write-only: ``get`` shows it
as ``status.apiKey: set|unset`` and leaves it out of the spec, so the output applies
back unchanged."""

from __future__ import annotations

from typing import Any, ClassVar

from app.models import Account, AdminUser
from app.services import provider_connections as service
from app.services.provider_connections import ConnectionSpec

from .base import CREATED, AfterCommit, Outcome, Reference, SpecModel, changed


class ProviderConnectionSpec(SpecModel, ConnectionSpec):
    """A provider connection; ``apiKey`` is write-only (left out: kept)."""


class ProviderConnectionKind:
    name: ClassVar[str] = "ProviderConnection"
    order: ClassVar[int] = 10
    spec_model: ClassVar[type[SpecModel]] = ProviderConnectionSpec

    def names(self, account: Account) -> list[str]:
        return [c.name for c in service.list_connections(account)]

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        connection = service.find_connection(account, name)
        if connection is None:
            return None
        shown = service.shown(connection)
        key = shown.pop("apiKey")
        return shown, {"apiKey": key}

    def references(self, spec: SpecModel) -> list[Reference]:
        return []

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        assert isinstance(spec, ConnectionSpec)
        service.check_spec(spec)
        connection = service.find_connection(account, name)
        if connection is None:
            return CREATED
        return changed(service.differences(connection, spec))

    def apply(
        self, account: Account, name: str, spec: SpecModel, by: AdminUser | None
    ) -> AfterCommit | None:
        assert isinstance(spec, ConnectionSpec)
        service.save_connection(account, name, spec, commit=False)
        return None

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None:
        service.delete_connection(account, name)
