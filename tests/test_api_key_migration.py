"""The all_clients flag's migration: keys issued account-wide stay account-wide, scoped
keys stay scoped (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models import ApiKey
from app.models.common import utcnow
from tests.test_model_migrations import MIGRATIONS, add_account, app_on

BEFORE_FLAG = "5e0b7a2c91d4"
keys = sa.table(
    "api_keys",
    sa.column("id", sa.Integer),
    sa.column("key_id", sa.String),
    sa.column("secret_hash", sa.String),
    sa.column("account_id", sa.Integer),
    sa.column("label", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
clients = sa.table(
    "llm_clients",
    *(sa.column(c, sa.String) for c in ("name", "system_prompt", "deployment_status")),
    *(sa.column(c, sa.String) for c in ("dns_status", "tls_status")),
    *(sa.column(c, sa.Integer) for c in ("id", "account_id", "llm_model_id", "max_tokens")),
    sa.column("temperature", sa.Float),
    sa.column("require_api_key", sa.Boolean),
    sa.column("allowed_origins", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
scopes = sa.table("api_key_clients", sa.column("api_key_id"), sa.column("client_id"))


def add_client(account_id: int) -> int:
    model = db.session.execute(sa.text("SELECT min(id) FROM llm_models")).scalar_one()
    return db.session.execute(
        sa.insert(clients)
        .values(
            account_id=account_id,
            name="bot",
            system_prompt="",
            llm_model_id=model,
            deployment_status="draft",
            dns_status="none",
            tls_status="none",
            temperature=0.7,
            max_tokens=1024,
            require_api_key=True,
            allowed_origins=[],
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .returning(clients.c.id)
    ).scalar_one()


def add_key(account_id: int, key_id: str) -> int:
    return db.session.execute(
        sa.insert(keys)
        .values(
            key_id=key_id,
            secret_hash="0" * 64,
            account_id=account_id,
            label="",
            created_at=utcnow(),
        )
        .returning(keys.c.id)
    ).scalar_one()


def test_the_upgrade_marks_only_unscoped_keys_account_wide(scratch_database_url):
    with app_on(scratch_database_url):
        upgrade(directory=MIGRATIONS, revision=BEFORE_FLAG)
        acme = add_account("1111-2222-3333", "Acme")
        client = add_client(acme)
        wide = add_key(acme, "aaaaaaaaaaaa")
        scoped = add_key(acme, "bbbbbbbbbbbb")
        db.session.execute(sa.insert(scopes).values(api_key_id=scoped, client_id=client))
        db.session.commit()

        upgrade(directory=MIGRATIONS)

        flags = dict(db.session.execute(sa.select(ApiKey.id, ApiKey.all_clients)).all())
        assert flags == {wide: True, scoped: False}
        db.session.rollback()

        # Going back never widens a key whose scope was emptied: it is revoked instead.
        db.session.execute(sa.delete(scopes))
        db.session.commit()
        downgrade(directory=MIGRATIONS, revision=BEFORE_FLAG)
        revoked = dict(
            db.session.execute(sa.text("SELECT id, revoked_at IS NOT NULL FROM api_keys")).all()
        )
        assert revoked == {wide: False, scoped: True}
