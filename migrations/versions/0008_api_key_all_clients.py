"""api keys: an explicit all_clients flag

An empty scope used to mean "all clients", so deleting a scoped key's last client (the
cascade removes its scope rows) widened the key to the whole account. The flag makes
"all clients" explicit; a scoped key whose clients are gone opens nothing. Keys with
scope rows today are scoped; keys without any are account-wide, as they were issued
(a key already widened by a deletion cannot be told apart from one issued account-wide).

Revision ID: 5b1e0a7c9d42
Revises: 5e0b7a2c91d4
Create Date: 2026-12-02 03:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5b1e0a7c9d42"
down_revision = "5e0b7a2c91d4"
branch_labels = None
depends_on = None

api_keys = sa.table("api_keys", sa.column("id", sa.Integer), sa.column("all_clients", sa.Boolean))
api_key_clients = sa.table("api_key_clients", sa.column("api_key_id", sa.Integer))


def upgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("all_clients", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    scoped = sa.exists().where(api_key_clients.c.api_key_id == api_keys.c.id)
    op.execute(api_keys.update().where(~scoped).values(all_clients=True))


def downgrade():
    # An emptied scope would mean "all clients" again: revoke those keys rather than widen them.
    api_keys_full = sa.table(
        "api_keys",
        sa.column("id", sa.Integer),
        sa.column("all_clients", sa.Boolean),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    scoped = sa.exists().where(api_key_clients.c.api_key_id == api_keys_full.c.id)
    op.execute(
        api_keys_full.update()
        .where(~api_keys_full.c.all_clients & ~scoped & api_keys_full.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.current_timestamp())
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("all_clients")
