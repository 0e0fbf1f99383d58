"""serving state apart from pending changes; runs know their job

A client's ``deployment_status`` now says only whether it is served (draft, deploying,
deployed, undeploying): a pending, failed or discarded change is its latest run. Clients
left ``awaiting_approval`` or ``errored`` by the old rule become ``deployed`` when their
infrastructure was applied (``deployed_at`` set), else ``deploying`` (a first deploy
awaiting review) or ``draft`` (a first deploy that failed).

``llm_clients.live_hosts``: the hosts the last successful apply created; a custom host
is served only once it is there. Backfilled with the custom host of deployed clients
whose domain was verified (what was served until now).

``infra_runs.job_name`` / ``job_args``: the job that carries a run out, so any process
can enqueue it again; ``infra_runs.hosts``: the hosts its configuration serves.

Revision ID: 7d1e5a0c2b6f
Revises: c188c08ec3a4
Create Date: 2026-12-02 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '7d1e5a0c2b6f'
down_revision = 'c188c08ec3a4'
branch_labels = None
depends_on = None

clients = sa.table(
    'llm_clients',
    sa.column('id', sa.Integer),
    sa.column('name', sa.String),
    sa.column('deployment_status', sa.String),
    sa.column('deployed_at', sa.DateTime(timezone=True)),
    sa.column('custom_domain_id', sa.Integer),
    sa.column('live_hosts', sa.JSON),
)
domains = sa.table(
    'custom_domains',
    sa.column('id', sa.Integer),
    sa.column('domain', sa.String),
    sa.column('verified_at', sa.DateTime(timezone=True)),
)
OLD_STATUSES = ('draft', 'deploying', 'awaiting_approval', 'deployed', 'undeploying', 'errored')
NEW_STATUSES = ('draft', 'deploying', 'deployed', 'undeploying')


def upgrade():
    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live_hosts', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('infra_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('job_args', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('hosts', sa.JSON(), nullable=False, server_default='[]'))

    bind = op.get_bind()
    applied = clients.c.deployed_at.is_not(None)
    for old, first_deploy in (('awaiting_approval', 'deploying'), ('errored', 'draft')):
        bind.execute(
            clients.update()
            .where(clients.c.deployment_status == old)
            .values(
                deployment_status=sa.case((applied, 'deployed'), else_=first_deploy)
            )
        )
    rows = bind.execute(
        sa.select(clients.c.id, clients.c.name, domains.c.domain)
        .join(domains, clients.c.custom_domain_id == domains.c.id)
        .where(clients.c.deployment_status == 'deployed', domains.c.verified_at.is_not(None))
    ).all()
    for client_id, name, domain in rows:
        bind.execute(
            clients.update()
            .where(clients.c.id == client_id)
            .values(live_hosts=[f'{name}.{domain}'.lower()])
        )


def downgrade():
    with op.batch_alter_table('infra_runs', schema=None) as batch_op:
        batch_op.drop_column('hosts')
        batch_op.drop_column('job_args')
        batch_op.drop_column('job_name')
    with op.batch_alter_table('llm_clients', schema=None) as batch_op:
        batch_op.drop_column('live_hosts')
