"""Data migrations: named, run once per batch, recorded in a ledger, callable from Alembic.

``runner`` (the registry, ``apply``, ``run_data_migration``), ``ledger`` (the
``data_migrations`` table), ``notices`` (notices stored by data migrations, delivered after
commit) and ``tables`` (the Core view of the tables they use).
"""

from app.data_migrations.ledger import Batch, LedgerEntry
from app.data_migrations.notices import deliver_after_migrations, deliver_notices
from app.data_migrations.runner import (
    Applied,
    DataMigration,
    apply,
    get_migration,
    mark,
    preview,
    registry,
    run_data_migration,
)

__all__ = [
    "Applied",
    "Batch",
    "DataMigration",
    "LedgerEntry",
    "apply",
    "deliver_after_migrations",
    "deliver_notices",
    "get_migration",
    "mark",
    "preview",
    "registry",
    "run_data_migration",
]
