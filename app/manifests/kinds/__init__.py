"""The kinds a manifest may declare, by name. A new kind is one module here with a
class that follows :class:`app.manifests.kinds.base.Kind`, added to :data:`KINDS`."""

from __future__ import annotations

from .base import Kind
from .client import ClientKind
from .provider_connection import ProviderConnectionKind

KINDS: dict[str, Kind] = {kind.name: kind for kind in (ProviderConnectionKind(), ClientKind())}

__all__ = ["KINDS", "Kind"]
