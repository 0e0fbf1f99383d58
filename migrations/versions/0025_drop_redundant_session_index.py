"""Drop ix_chat_sessions_client_id: ix_chat_sessions_client_end_user (client_id,
end_user) leads with the same column and serves every lookup by client (the cascade
from llm_clients included), so the single-column index was one more entry written by
every new chat session for nothing.

Revision ID: 7b3c0e5d2f98
Revises: 6a2f9d4c1e87
Create Date: 2026-12-08 01:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "7b3c0e5d2f98"
down_revision = "6a2f9d4c1e87"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_sessions_client_id")


def downgrade():
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_chat_sessions_client_id", ["client_id"], unique=False)
