"""llm_clients: timeout_seconds (each client's deadline for its model's answer; 0 keeps
the platform's LLM_TIMEOUT_SECONDS)

Revision ID: 7a3e9c2d4b61
Revises: 5d2b7e1c9a40
Create Date: 2026-12-07 09:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7a3e9c2d4b61"
down_revision = "5d2b7e1c9a40"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timeout_seconds", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.drop_column("timeout_seconds")
