"""llm_clients: tls_detail and tls_checked_at (what the last check of the covering
certificates found: expiry, a failed renewal)

Revision ID: 8c4e2a7d9f13
Revises: 8c4e2a7d1f93
Create Date: 2026-12-07 07:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "8c4e2a7d9f13"
down_revision = "8c4e2a7d1f93"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tls_detail", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("tls_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("llm_clients", schema=None) as batch_op:
        batch_op.drop_column("tls_checked_at")
        batch_op.drop_column("tls_detail")
