"""The host index's version stamp: one row, bumped in every transaction that changes
what a host resolves to, so every process can tell cheaply that its index is stale."""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class RoutingVersion(Model):
    __tablename__ = "routing_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
