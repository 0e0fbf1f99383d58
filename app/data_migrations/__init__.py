"""Data migrations: run once per batch, recorded in a ledger, callable from Alembic.

``runner`` (``DataMigration``, ``apply``, ``preview``, ``mark``), ``ledger`` (the
``data_migrations`` table), ``notices`` (notices stored by data migrations) and ``tables``
(the Core view of the tables they use). The named list, and delivering notices after the
commit, are the service layer's: ``app.services.data_migrations``.
"""

from app.data_migrations.ledger import Batch, LedgerEntry
from app.data_migrations.runner import Applied, DataMigration, apply, mark, preview

__all__ = [
    "Applied",
    "Batch",
    "DataMigration",
    "LedgerEntry",
    "apply",
    "mark",
    "preview",
]
