"""users: last_seen_at (the console's members list); usage: refused requests (429s) by
limit, counted per day, client and key

Revision ID: 8c4e2a7d1f93
Revises: 3f8a1c6e2b57
Create Date: 2026-12-07 07:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "8c4e2a7d1f93"
down_revision = "3f8a1c6e2b57"
branch_labels = None
depends_on = None

REFUSALS = ("refused_budget", "refused_rate")


def upgrade():
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        for name in REFUSALS:
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )


def downgrade():
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        for name in REFUSALS:
            batch_op.drop_column(name)
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
