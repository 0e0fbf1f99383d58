"""``kind: Plugin``: a tool of the account's clients (``app.services.tools``): its
name is the function name the model calls. ``status.clients`` lists the clients it is
attached to (a Client manifest's ``spec.plugins`` attaches it)."""

from __future__ import annotations

from typing import Any, ClassVar

from app.models import Account, AdminUser
from app.services import tool_manifests, tools
from app.tools.specs import PluginSpec

from .base import CREATED, AfterCommit, Outcome, Reference, SpecModel, changed


class PluginManifestSpec(SpecModel, PluginSpec):
    """A plugin: static data, a SQL query or an HTTP call, and its parameters."""


class PluginKind:
    name: ClassVar[str] = "Plugin"
    order: ClassVar[int] = 20  # after connections, before the clients that offer it
    spec_model: ClassVar[type[SpecModel]] = PluginManifestSpec

    def names(self, account: Account) -> list[str]:
        return [p.name for p in tools.list_plugins(account.id)]

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        plugin = tools.find_plugin(account.id, name)
        return None if plugin is None else tool_manifests.plugin_manifest(plugin)

    def references(self, spec: SpecModel) -> list[Reference]:
        assert isinstance(spec, PluginSpec)
        if spec.connection is None:
            return []
        return [Reference(f"{spec.type}.connection", "Connection", spec.connection)]

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        assert isinstance(spec, PluginSpec)
        tools.check_plugin(account, name, spec)
        fields = tool_manifests.plugin_differences(account, name, spec)
        return CREATED if fields is None else changed(fields)

    def apply(
        self, account: Account, name: str, spec: SpecModel, by: AdminUser | None
    ) -> AfterCommit | None:
        assert isinstance(spec, PluginSpec)
        tools.apply_plugin(account, name, spec, commit=False)
        return None

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None:
        tools.delete_plugin(tools.get_plugin(account.id, name))  # its own change
