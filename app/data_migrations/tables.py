"""The tables as data migrations see them: Core definitions of just the columns they use.

Data migrations also run inside Alembic revisions, against the schema *of that
revision*, while the ORM models follow the newest schema: loading an ``Account`` would
select a column a later revision adds, and an ORM insert would send a later column's
default. These definitions name only what the data migrations read or write, so they
stay valid while those columns exist. A revision that drops or renames one of them must
adapt the data migrations too; the migration tests (a fresh database, and an upgrade
of an old one) fail until it does.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, Text

from app.models.common import UTCDateTime

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_number", String(14)),
    Column("name", String(200)),
    Column("contact_email", String(254)),
)

llm_models = Table(
    "llm_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32)),
    Column("name", String(128)),
    Column("token_limit", Integer),
    Column("deprecated", Boolean),
    Column("is_default", Boolean),
    Column("created_at", UTCDateTime()),
    Column("updated_at", UTCDateTime()),
)

llm_clients = Table(
    "llm_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer),
    Column("name", String(63)),
    Column("llm_model_id", Integer),
    Column("updated_at", UTCDateTime()),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer),
    Column("kind", String(64)),
    Column("subject", String(300)),
    Column("body", Text),
    Column("data", JSON),
    Column("dedupe_key", String(300)),
    Column("created_at", UTCDateTime()),
    Column("delivery_error", Text),
)

data_migrations = Table(
    "data_migrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
    Column("applied_at", UTCDateTime()),
    Column("batch_hash", String(64)),
    Column("details", JSON),
)
