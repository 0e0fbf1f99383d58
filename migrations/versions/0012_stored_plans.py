"""stored plans: a run's saved plan file in the database, for any worker to apply

Revision ID: 5d2b7e9a4c31
Revises: 8a3f6c1d2e90
Create Date: 2026-12-02 07:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5d2b7e9a4c31"
down_revision = "8a3f6c1d2e90"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stored_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["infra_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stored_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_plans_run_id"), ["run_id"], unique=False)


def downgrade():
    with op.batch_alter_table("stored_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_plans_run_id"))
    op.drop_table("stored_plans")
