"""uptime rollups

Revision ID: uptime_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'uptime_0001'
down_revision = None
branch_labels = ('uptime',)
depends_on = 'fleet_0001'


def upgrade() -> None:

    op.create_table('uptime_boot_day',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('journal_id', sa.String(length=32), nullable=False),
    sa.Column('boot', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('window_key', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('up_ms_e0', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e1', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e2', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e3', sa.BigInteger(), nullable=False),
    sa.Column('unanchored_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'journal_id', 'boot', 'window_key', 'day')
    )
    with op.batch_alter_table('uptime_boot_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uptime_boot_day_commune_id'), ['commune_id'], unique=False)

    op.create_table('uptime_day',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('window_key', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('up_ms_e0', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e1', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e2', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e3', sa.BigInteger(), nullable=False),
    sa.Column('unanchored_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'window_key', 'day')
    )
    with op.batch_alter_table('uptime_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uptime_day_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_uptime_day_day'), ['day'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('uptime_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uptime_day_day'))
        batch_op.drop_index(batch_op.f('ix_uptime_day_commune_id'))

    op.drop_table('uptime_day')
    with op.batch_alter_table('uptime_boot_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uptime_boot_day_commune_id'))

    op.drop_table('uptime_boot_day')

