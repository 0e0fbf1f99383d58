"""usage aggregates per day, client, key and model; token budget and rate limits; audit trail

Revision ID: 8a3f6c1d2e90
Revises: 8a4c2e6f0b13
Create Date: 2026-12-02 04:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "8a3f6c1d2e90"
down_revision = "8a4c2e6f0b13"
branch_labels = None
depends_on = None

COUNTERS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms_total",
    "latency_le_250",
    "latency_le_1000",
    "latency_le_5000",
    "latency_over",
)


def upgrade():
    op.create_table(
        "usage_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("client_name", sa.String(length=63), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTERS],
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "day", "client_id", "api_key_id", "model", "shard", name="uq_usage_row"
        ),
    )
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_daily_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_daily_account_id"), ["account_id"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_account_id"), ["account_id"], unique=False)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monthly_token_budget", sa.BigInteger(), nullable=True))
    for table in ("llm_clients", "api_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("tokens_per_minute", sa.Integer(), nullable=True))


def downgrade():
    for table in ("api_keys", "llm_clients"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("tokens_per_minute")
            batch_op.drop_column("requests_per_minute")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("monthly_token_budget")
    op.drop_table("audit_events")
    op.drop_table("usage_daily")
