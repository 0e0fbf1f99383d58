"""Runs recorded before they had an account id get their account's id from the number
they kept, so the account checks on runs (``access.account_id_of``, the runs lists)
read a column instead of querying accounts (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models.common import utcnow
from tests.test_model_migrations import MIGRATIONS, add_account, app_on

BEFORE_ACCOUNT_ID = "8c4e2a7d9f13"
WITH_ACCOUNT_ID = "5d2b7e1c9a40"
runs = sa.table(
    "infra_runs",
    sa.column("id", sa.Integer),
    sa.column("workspace_key", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("account_number", sa.String),
    sa.column("target_name", sa.String),
    sa.column("auto_approve", sa.Boolean),
    sa.column("drift_check", sa.Boolean),
    sa.column("plan_text", sa.Text),
    sa.column("log", sa.Text),
    sa.column("error", sa.Text),
    sa.column("note", sa.Text),
    sa.column("requested_by", sa.String),
    sa.column("job_args", sa.JSON),
    sa.column("hosts", sa.JSON),
    sa.column("attempts", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def add_run(number: str) -> int:
    return db.session.execute(
        runs.insert()
        .values(
            workspace_key=f"routing/{number}",
            kind="apply",
            status="applied",
            account_number=number,
            target_name=number,
            auto_approve=False,
            drift_check=False,
            plan_text="",
            log="",
            error="",
            note="",
            requested_by="cli",
            job_args=[],
            hosts=[],
            attempts=0,
            created_at=utcnow(),
        )
        .returning(runs.c.id)
    ).scalar_one()


def test_the_upgrade_gives_every_run_its_accounts_id(scratch_database_url):
    with app_on(scratch_database_url):
        upgrade(directory=MIGRATIONS, revision=BEFORE_ACCOUNT_ID)
        acme = add_account("1111-2222-3333", "Acme")
        globex = add_account("4444-5555-6666", "Globex")
        acme_run, globex_run = add_run("1111-2222-3333"), add_run("4444-5555-6666")
        db.session.commit()

        upgrade(directory=MIGRATIONS, revision=WITH_ACCOUNT_ID)

        owners = dict(db.session.execute(sa.text("SELECT id, account_id FROM infra_runs")).all())
        assert owners == {acme_run: acme, globex_run: globex}
        db.session.rollback()
        downgrade(directory=MIGRATIONS, revision=BEFORE_ACCOUNT_ID)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("infra_runs")}
        assert "account_id" not in columns
