"""``kind: Connection``: where an account's ``sql`` and ``api`` plugins connect
(``app.services.tools``). Its secrets (``sql.password``, ``api.headers``) are
write-only: ``get`` shows them as ``status`` set/unset and leaves them out of the spec,
so the output applies back unchanged (a secret left out keeps its value)."""

from __future__ import annotations

from typing import Any, ClassVar

from app.models import Account, AdminUser
from app.services import tool_manifests, tools
from app.tools.specs import ConnectionSpec

from .base import CREATED, AfterCommit, Outcome, Reference, SpecModel, changed


class ConnectionManifestSpec(SpecModel, ConnectionSpec):
    """A connection; its secrets are write-only (left out: kept)."""


class ConnectionKind:
    name: ClassVar[str] = "Connection"
    order: ClassVar[int] = 12  # before the plugins that use it
    spec_model: ClassVar[type[SpecModel]] = ConnectionManifestSpec

    def names(self, account: Account) -> list[str]:
        return [c.name for c in tools.list_connections(account.id)]

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        connection = tools.find_connection(account.id, name)
        return None if connection is None else tool_manifests.connection_manifest(connection)

    def references(self, spec: SpecModel) -> list[Reference]:
        return []

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        assert isinstance(spec, ConnectionSpec)
        tools.check_connection(account, name, spec)
        fields = tool_manifests.connection_differences(account, name, spec)
        return CREATED if fields is None else changed(fields)

    def apply(
        self, account: Account, name: str, spec: SpecModel, by: AdminUser | None
    ) -> AfterCommit | None:
        assert isinstance(spec, ConnectionSpec)
        tools.apply_connection(account, name, spec, commit=False)
        return None

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None:
        tools.delete_connection(tools.get_connection(account.id, name))  # its own change
