"""invitations: revoked_at (revoked by an owner, or with their inviter's removal)

Revision ID: 3f8a1c6e2b57
Revises: 5d2b7e9a4c31
Create Date: 2026-12-07 06:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "3f8a1c6e2b57"
down_revision = "5d2b7e9a4c31"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("account_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("account_invitations", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
