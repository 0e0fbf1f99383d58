"""infra_runs: account_id (runs named their account only by number, so "the account of a
run" was a query; the number stays as the run's history)

Revision ID: 5d2b7e1c9a40
Revises: 8c4e2a7d9f13
Create Date: 2026-12-07 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5d2b7e1c9a40"
down_revision = "8c4e2a7d9f13"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("infra_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE infra_runs SET account_id = (SELECT accounts.id FROM accounts"
        " WHERE accounts.account_number = infra_runs.account_number)"
    )
    with op.batch_alter_table("infra_runs", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_infra_runs_account_id", "accounts", ["account_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_infra_runs_account_id", ["account_id"])


def downgrade():
    with op.batch_alter_table("infra_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_infra_runs_account_id")
        batch_op.drop_constraint("fk_infra_runs_account_id", type_="foreignkey")
        batch_op.drop_column("account_id")
