"""PostgreSQL: a notification on channel chatdock_chat_settings after every statement that
changes what a chat reads of its client (llm_clients, accounts, llm_models,
provider_connections, client_plugins, routing_version): web workers cache each client's
chat settings and drop them when one arrives (app/change_feed.py). SQLite: nothing (no
cache there).

Revision ID: 6a2f9d4c1e87
Revises: 5e1b7c3a9d24
Create Date: 2026-12-07 21:40:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "6a2f9d4c1e87"
down_revision = "5e1b7c3a9d24"
branch_labels = None
depends_on = None

CHANNEL = "chatdock_chat_settings"
FUNCTION = "chatdock_notify_chat_settings"
TABLES = (
    "llm_clients",
    "accounts",
    "llm_models",
    "provider_connections",
    "client_plugins",
    "routing_version",
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # The table's name as the payload: PostgreSQL sends one notification per channel and
    # payload per transaction, delivered at its commit (none when it rolls back).
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_chat_settings_changed "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_chat_settings_changed ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
