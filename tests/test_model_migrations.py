"""The catalog's migration on a fresh database, and as the upgrade of a database whose
clients use models the catalog has deleted since (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from app import create_app
from app.data_migrations import ledger
from app.extensions import db
from app.llm.catalog import CATALOG
from app.models import ChatSession, LlmClient, LlmModel, Notification
from app.models.common import utcnow
from app.services.model_retirement import NAME, deleted_batch
from tests.conftest import _settings
from tests.live import webhook_receiver

MIGRATIONS = str(Path(__file__).parent.parent / "migrations")
BEFORE_CATALOG = "66ea958cc001"
LIVE_CATALOG = {
    (provider, m.name) for provider, models in CATALOG.models.items() for m in models
} - {("openai", "gpt-5"), ("anthropic", "claude-opus-4-20250514")}

# The tables as they were at BEFORE_CATALOG (clients named their provider and model).
accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer),
    sa.column("account_number", sa.String),
    sa.column("name", sa.String),
    sa.column("contact_email", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
clients = sa.table(
    "llm_clients",
    *(sa.column(c, sa.String) for c in ("name", "provider", "model", "system_prompt")),
    *(sa.column(c, sa.String) for c in ("deployment_status", "dns_status", "tls_status")),
    sa.column("id", sa.Integer),
    sa.column("account_id", sa.Integer),
    sa.column("temperature", sa.Float),
    sa.column("max_tokens", sa.Integer),
    sa.column("require_api_key", sa.Boolean),
    sa.column("allowed_origins", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


@contextlib.contextmanager
def app_on(database_url: str, **overrides) -> Iterator[Flask]:
    app = create_app(_settings(database_url, **overrides))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def add_account(number: str, name: str) -> int:
    return db.session.execute(
        accounts.insert()
        .values(account_number=number, name=name, contact_email=None, created_at=utcnow())
        .returning(accounts.c.id)
    ).scalar_one()


def add_client(account_id: int, name: str, provider: str, model: str) -> int:
    now = utcnow()
    return db.session.execute(
        clients.insert()
        .values(
            account_id=account_id,
            name=name,
            provider=provider,
            model=model,
            system_prompt="",
            temperature=0.7,
            max_tokens=1024,
            require_api_key=False,
            allowed_origins=[],
            deployment_status="deployed",
            dns_status="unmanaged",
            tls_status="unmanaged",
            created_at=now,
            updated_at=now,
        )
        .returning(clients.c.id)
    ).scalar_one()


def models_table() -> set[tuple[str, str]]:
    return {tuple(row) for row in db.session.execute(sa.select(LlmModel.provider, LlmModel.name))}


def test_a_fresh_database_gets_the_catalog_and_the_ledger(scratch_database_url):
    with app_on(scratch_database_url):
        upgrade(directory=MIGRATIONS)
        assert models_table() == LIVE_CATALOG
        entry = ledger.get(db.session.connection(), NAME)
        assert entry is not None and entry.covers(deleted_batch()) and not entry.faked
        assert entry.details["removed"] == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
        # The migrations build exactly the tables the models declare.
        differences = compare_metadata(
            MigrationContext.configure(db.session.connection()), db.metadata
        )
        assert differences == []
        db.session.rollback()
        downgrade(directory=MIGRATIONS, revision=BEFORE_CATALOG)
        tables = sa.inspect(db.engine).get_table_names()
        assert "llm_models" not in tables and "data_migrations" not in tables
        upgrade(directory=MIGRATIONS)
        assert models_table() == LIVE_CATALOG


def test_an_upgrade_moves_clients_off_deleted_models_and_tells_their_accounts(
    scratch_database_url,
):
    with (
        webhook_receiver() as (hook_url, hooks),
        app_on(scratch_database_url, NOTIFY_WEBHOOK_URL=hook_url),
    ):
        upgrade(directory=MIGRATIONS, revision=BEFORE_CATALOG)
        acme = add_account("1111-2222-3333", "Acme")
        beta = add_account("4444-5555-6666", "Beta")
        calm = add_account("7777-8888-9999", "Calm")
        ids = {
            "a": add_client(acme, "a", "openai", "gpt-4-turbo"),
            "b": add_client(acme, "b", "anthropic", "claude-2.0"),
            "c": add_client(acme, "c", "openai", "gpt-5"),
            "d": add_client(beta, "d", "openai", "gpt-4-turbo"),
            "e": add_client(beta, "e", "openai", "llama3"),
            "f": add_client(calm, "f", "echo", "echo-1"),
        }
        db.session.execute(
            sa.insert(ChatSession.__table__).values(
                client_id=ids["a"], session_key="kept", created_at=utcnow(), updated_at=utcnow()
            )
        )
        db.session.commit()

        upgrade(directory=MIGRATIONS)

        moved = {
            c.name: f"{c.provider}/{c.model}" for c in db.session.scalars(sa.select(LlmClient))
        }
        assert moved == {
            "a": "openai/gpt-4.1",  # the entry's replacement
            "b": "anthropic/claude-sonnet-4-6",  # no replacement: the provider's default
            "c": "openai/gpt-5",  # deprecated, not deleted: keeps working
            "d": "openai/gpt-4.1",
            "e": "openai/llama3",  # unknown to the catalog: kept as it was
            "f": "echo/echo-1",
        }
        assert models_table() == LIVE_CATALOG | {("openai", "gpt-5"), ("openai", "llama3")}
        gpt5 = db.session.scalars(sa.select(LlmModel).where(LlmModel.name == "gpt-5")).one()
        assert gpt5.deprecated and gpt5.token_limit == 400_000
        entry = ledger.get(db.session.connection(), NAME)
        assert entry.covers(deleted_batch())
        assert entry.details["removed"] == [
            {"model": "openai/gpt-4-turbo", "replacement": "openai/gpt-4.1", "clients": 2},
            {"model": "anthropic/claude-2.0", "replacement": "anthropic/claude-sonnet-4-6",
             "clients": 1},
        ]  # fmt: skip
        notices = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
        assert [n.account_id for n in notices] == [acme, beta]
        assert all(n.kind == "model.removed" and n.delivered_at for n in notices)
        assert sorted(h["account"] for h in hooks) == ["1111-2222-3333", "4444-5555-6666"]
        assert "  - a" in notices[0].body and "  - b" in notices[0].body
        assert db.session.scalar(sa.select(ChatSession.client_id)) == ids["a"]  # not cascaded
