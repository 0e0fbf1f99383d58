"""admin session version: signing out ends every session and remember cookie

Revision ID: 5e0b7a2c91d4
Revises: 7d1e5a0c2b6f
Create Date: 2026-12-02 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e0b7a2c91d4'
down_revision = '7d1e5a0c2b6f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admin_users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), server_default='1', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('admin_users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
