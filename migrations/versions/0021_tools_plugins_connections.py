"""Tools: connections, plugins, client_plugins, tool_calls; llm_clients.functions

Revision ID: 16a7c3e2b501
Revises: 7a3e9c2d4b61
Create Date: 2026-12-07 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "16a7c3e2b501"
down_revision = "7a3e9c2d4b61"
branch_labels = None
depends_on = None


def _stamps():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade():
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_connections_account_name"),
    )
    op.create_index("ix_connections_account_id", "connections", ["account_id"])
    op.create_table(
        "plugins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("selector", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_plugins_account_name"),
    )
    op.create_index("ix_plugins_account_id", "plugins", ["account_id"])
    op.create_index("ix_plugins_connection_id", "plugins", ["connection_id"])
    op.create_table(
        "client_plugins",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("plugin_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["llm_clients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["plugin_id"], ["plugins.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("client_id", "plugin_id"),
    )
    op.create_table(
        "tool_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("result_chars", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["chat_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tool_calls_message_id", "tool_calls", ["message_id"])
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("functions", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.drop_column("functions")
    op.drop_index("ix_tool_calls_message_id", table_name="tool_calls")
    op.drop_table("tool_calls")
    op.drop_table("client_plugins")
    op.drop_index("ix_plugins_connection_id", table_name="plugins")
    op.drop_index("ix_plugins_account_id", table_name="plugins")
    op.drop_table("plugins")
    op.drop_index("ix_connections_account_id", table_name="connections")
    op.drop_table("connections")
