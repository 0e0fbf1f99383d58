"""Publishing a client: llm_clients.appearance, identity_mode, identity_secret (sealed),
user_requests_per_minute, user_tokens_per_minute; chat_sessions.end_user; usage_daily
origin and end_user (part of its unique row key)

Revision ID: 5e1b7c3a9d24
Revises: 5d18a3c6e2b7
Create Date: 2026-12-07 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5e1b7c3a9d24"
down_revision = "5d18a3c6e2b7"
branch_labels = None
depends_on = None

OLD_KEY = ["day", "client_id", "api_key_id", "model", "shard"]
NEW_KEY = ["day", "client_id", "api_key_id", "model", "origin", "end_user", "shard"]


def upgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appearance", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("identity_mode", sa.String(length=16), nullable=False, server_default="off")
        )
        batch_op.add_column(sa.Column("identity_secret", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("user_requests_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("user_tokens_per_minute", sa.Integer(), nullable=True))
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_user", sa.String(length=128), nullable=True))
        batch_op.create_index(
            "ix_chat_sessions_client_end_user", ["client_id", "end_user"], unique=False
        )
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("end_user", sa.String(length=128), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_usage_row", type_="unique")
        batch_op.create_unique_constraint("uq_usage_row", NEW_KEY)


def downgrade():
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_constraint("uq_usage_row", type_="unique")
        batch_op.drop_column("end_user")
        batch_op.drop_column("origin")
        batch_op.create_unique_constraint("uq_usage_row", OLD_KEY)
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_sessions_client_end_user")
        batch_op.drop_column("end_user")
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.drop_column("user_tokens_per_minute")
        batch_op.drop_column("user_requests_per_minute")
        batch_op.drop_column("identity_secret")
        batch_op.drop_column("identity_mode")
        batch_op.drop_column("appearance")
