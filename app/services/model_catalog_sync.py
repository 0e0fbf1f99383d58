"""Sync the catalog in code into ``llm_models``: ``flask models sync`` and migrations.

Additive by design: it creates the catalog's missing models (not deprecated ones: nobody
may choose those), updates token limits and the deprecated and default flags, marks the
rows of ``DELETED_MODELS`` deprecated, and never deletes a row (clients may use it;
deleting is ``remove_deprecated_models``' job). Running it twice changes nothing the
second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from app.data_migrations.runner import offline
from app.data_migrations.tables import llm_models
from app.errors import Conflict
from app.llm.catalog import CATALOG, Catalog, ModelRef
from app.models.common import utcnow


@dataclass
class SyncReport:
    created: list[ModelRef] = field(default_factory=list)
    updated: list[tuple[ModelRef, list[str]]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        if not self.changed:
            return ["the models table matches the catalog: nothing to do"]
        return [f"created {ref}" for ref in self.created] + [
            f"updated {ref}: {', '.join(changes)}" for ref, changes in self.updated
        ]


def _describe(column: str, old: Any, new: Any) -> str:
    if isinstance(new, bool):
        return column.replace("is_", "") if new else f"no longer {column.replace('is_', '')}"
    return f"{column} {old} -> {new}"


def _wanted(catalog: Catalog, existing: dict[tuple[str, str], Any]) -> dict[tuple[str, str], dict]:
    """Column values the catalog asks of each (provider, name) it has an opinion on."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {
        key: {"is_default": False} for key in existing if key[0] in catalog.models
    }
    for provider, models in catalog.models.items():
        for model in models:
            wanted[(provider, model.name)] = {
                "token_limit": model.token_limit,
                "deprecated": model.deprecated,
                "is_default": model.is_default,
            }
    for entry in catalog.deleted:
        wanted[(entry.provider, entry.name)] = {"deprecated": True, "is_default": False}
    return wanted


def llm_model_migration(
    connection: Connection | None = None, catalog: Catalog = CATALOG
) -> SyncReport:
    """Bring ``llm_models`` in line with ``catalog``, in the caller's transaction.

    Inside an Alembic revision call it bare: it uses the revision's connection.
    """
    if connection is None:
        from alembic import op

        if offline(op, "the model catalog sync", "flask models sync"):
            return SyncReport()
        connection = op.get_bind()
    problems = catalog.problems()
    if problems:
        raise Conflict("the model catalog is inconsistent: " + "; ".join(problems))
    existing = {
        (r["provider"], r["name"]): r for r in connection.execute(select(llm_models)).mappings()
    }
    wanted = _wanted(catalog, existing)
    now = utcnow()
    report = SyncReport()
    changes = []
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            continue
        diff = {column: value for column, value in values.items() if row[column] != value}
        if diff:
            changes.append((row, diff))
    # Clear defaults before setting new ones: at most one default per provider, always.
    changes.sort(key=lambda change: change[1].get("is_default") is True)
    for row, diff in changes:
        connection.execute(
            update(llm_models).where(llm_models.c.id == row["id"]).values(**diff, updated_at=now)
        )
        described = [_describe(column, row[column], value) for column, value in diff.items()]
        report.updated.append((ModelRef(row["provider"], row["name"]), described))
    created: list[dict[str, Any]] = [
        {
            "provider": provider,
            "name": model.name,
            "token_limit": model.token_limit,
            "deprecated": False,
            "is_default": model.is_default,
            "created_at": now,
            "updated_at": now,
        }
        for provider, models in catalog.models.items()
        for model in models
        if (provider, model.name) not in existing and not model.deprecated
    ]
    if created:
        connection.execute(insert(llm_models), created)
        report.created = [ModelRef(row["provider"], row["name"]) for row in created]
    return report
