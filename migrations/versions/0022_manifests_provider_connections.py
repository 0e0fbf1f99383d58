"""provider_connections (an account's own model provider), llm_clients.provider_connection_id
and fallbacks, llm_models.provider_connection_id (a connection's own models)

Revision ID: 5d18a3c6e2b7
Revises: 16a7c3e2b501
Create Date: 2026-12-07 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5d18a3c6e2b7"
down_revision = "16a7c3e2b501"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "provider_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_key_sealed", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_provider_connections_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_connections")),
        sa.UniqueConstraint("account_id", "name", name="uq_provider_connections_account_name"),
    )
    op.create_index(
        op.f("ix_provider_connections_account_id"), "provider_connections", ["account_id"]
    )
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_connection_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("fallbacks", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.create_index(
            batch_op.f("ix_llm_clients_provider_connection_id"), ["provider_connection_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_llm_clients_provider_connection_id_provider_connections"),
            "provider_connections",
            ["provider_connection_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("llm_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_connection_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_llm_models_provider_connection_id_provider_connections"),
            "provider_connections",
            ["provider_connection_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint("uq_llm_models_provider_name", type_="unique")
    op.create_index(
        "uq_llm_models_provider_name",
        "llm_models",
        ["provider", "name"],
        unique=True,
        sqlite_where=sa.text("provider_connection_id IS NULL"),
        postgresql_where=sa.text("provider_connection_id IS NULL"),
    )
    op.create_index(
        "uq_llm_models_connection_name",
        "llm_models",
        ["provider_connection_id", "name"],
        unique=True,
    )


def downgrade():
    op.execute("DELETE FROM llm_models WHERE provider_connection_id IS NOT NULL")
    op.drop_index("uq_llm_models_connection_name", table_name="llm_models")
    op.drop_index("uq_llm_models_provider_name", table_name="llm_models")
    with op.batch_alter_table("llm_models", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_llm_models_provider_connection_id_provider_connections"),
            type_="foreignkey",
        )
        batch_op.drop_column("provider_connection_id")
        batch_op.create_unique_constraint("uq_llm_models_provider_name", ["provider", "name"])
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_llm_clients_provider_connection_id_provider_connections"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_llm_clients_provider_connection_id"))
        batch_op.drop_column("fallbacks")
        batch_op.drop_column("provider_connection_id")
    op.drop_index(op.f("ix_provider_connections_account_id"), table_name="provider_connections")
    op.drop_table("provider_connections")
