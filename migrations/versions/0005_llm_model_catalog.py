"""llm model catalog: llm_models, the data-migration ledger, clients reference a model

Clients' provider/model strings become a reference to an llm_models row (every name in
use gets a row, so nothing is lost), the catalog is synced, and the models deleted from
the catalog are removed (their clients moved to the replacements, their accounts told),
as every release that deletes models does.

Revision ID: c188c08ec3a4
Revises: 66ea958cc001
Create Date: 2026-11-22 22:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from app.services.data_migrations import run_data_migration
from app.services.model_catalog_sync import llm_model_migration


# revision identifiers, used by Alembic.
revision = 'c188c08ec3a4'
down_revision = '66ea958cc001'
branch_labels = None
depends_on = None

# The tables as this revision sees them (never the ORM models, which follow the newest schema).
clients = sa.table(
    'llm_clients',
    sa.column('id', sa.Integer),
    sa.column('provider', sa.String),
    sa.column('model', sa.String),
    sa.column('llm_model_id', sa.Integer),
)
models = sa.table(
    'llm_models',
    sa.column('id', sa.Integer),
    sa.column('provider', sa.String),
    sa.column('name', sa.String),
    sa.column('token_limit', sa.Integer),
    sa.column('deprecated', sa.Boolean),
    sa.column('is_default', sa.Boolean),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('updated_at', sa.DateTime(timezone=True)),
)


def upgrade():
    op.create_table('llm_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('token_limit', sa.Integer(), nullable=True),
    sa.Column('deprecated', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_models')),
    sa.UniqueConstraint('provider', 'name', name='uq_llm_models_provider_name')
    )
    op.create_index('uq_llm_models_one_default', 'llm_models', ['provider'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table('data_migrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_hash', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_migrations')),
    sa.UniqueConstraint('name', name=op.f('uq_data_migrations_name'))
    )
    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('llm_model_id', sa.Integer(), nullable=True))

    # Every model a client uses gets a row (the sync below fills in what the catalog knows;
    # token_limit stays NULL for a model it does not know).
    now = sa.func.current_timestamp()
    op.execute(models.insert().from_select(
        ['provider', 'name', 'deprecated', 'is_default', 'created_at', 'updated_at'],
        sa.select(clients.c.provider, clients.c.model, sa.false(), sa.false(), now, now).distinct(),
    ))
    op.execute(clients.update().values(llm_model_id=sa.select(models.c.id).where(
        models.c.provider == clients.c.provider, models.c.name == clients.c.model
    ).scalar_subquery()))

    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.alter_column('llm_model_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_llm_clients_llm_model_id'), ['llm_model_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_llm_clients_llm_model_id_llm_models'), 'llm_models', ['llm_model_id'], ['id'], ondelete='RESTRICT')
        batch_op.drop_column('provider')
        batch_op.drop_column('model')

    # What every release that changes the catalog does.
    llm_model_migration()
    run_data_migration(op, 'remove_deprecated_models', force=True)


def downgrade():
    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('model', sa.String(length=128), nullable=True))
    model_of_client = sa.select(models.c.provider, models.c.name).where(
        models.c.id == clients.c.llm_model_id
    )
    op.execute(clients.update().values(
        provider=model_of_client.with_only_columns(models.c.provider).scalar_subquery(),
        model=model_of_client.with_only_columns(models.c.name).scalar_subquery(),
    ))
    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.alter_column('provider', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('model', existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_llm_clients_llm_model_id_llm_models'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_llm_clients_llm_model_id'))
        batch_op.drop_column('llm_model_id')

    op.drop_table('data_migrations')
    op.drop_index('uq_llm_models_one_default', table_name='llm_models')
    op.drop_table('llm_models')
