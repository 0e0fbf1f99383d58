"""domain claims: several accounts may claim a name, one verified claim holds it

A claim no longer locks the name for everyone: the unique name becomes unique per
account, and a partial unique index allows at most one verified claim per name.

Revision ID: 9e4c2b7a1f07
Revises: 5b1e0a7c9d42
Create Date: 2026-12-02 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e4c2b7a1f07'
down_revision = '5b1e0a7c9d42'
branch_labels = None
depends_on = None

VERIFIED_ONLY = sa.text("status = 'verified'")


def upgrade():
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_constraint('uq_custom_domains_domain', type_='unique')
        batch_op.create_unique_constraint(
            'uq_custom_domains_account_id_domain', ['account_id', 'domain']
        )
        batch_op.create_index('ix_custom_domains_domain', ['domain'], unique=False)
        batch_op.create_index(
            'uq_custom_domains_verified_domain', ['domain'], unique=True,
            sqlite_where=VERIFIED_ONLY, postgresql_where=VERIFIED_ONLY,
        )


def downgrade():
    # Fails (as it must) while two accounts claim the same name: delete one claim first.
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_index('uq_custom_domains_verified_domain')
        batch_op.drop_index('ix_custom_domains_domain')
        batch_op.drop_constraint('uq_custom_domains_account_id_domain', type_='unique')
        batch_op.create_unique_constraint('uq_custom_domains_domain', ['domain'])
