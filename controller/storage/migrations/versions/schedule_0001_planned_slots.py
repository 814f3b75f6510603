"""planned slots

Revision ID: schedule_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'schedule_0001'
down_revision = None
branch_labels = ('schedule',)
depends_on = 'core_0002'


def upgrade() -> None:

    op.create_table('planned_slot',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('slot_id', sa.String(length=96), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.String(length=64), nullable=False),
    sa.Column('start_ns', sa.BigInteger(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('window_end_ns', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('policy', sa.SmallInteger(), nullable=False),
    sa.Column('fragment', sa.Boolean(), nullable=False),
    sa.Column('plan_epoch', sa.BigInteger(), nullable=False),
    sa.Column('plan_version', sa.BigInteger(), nullable=False),
    sa.Column('planned_at', UTCDateTime(), nullable=False),
    sa.Column('withdrawn_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'slot_id')
    )
    with op.batch_alter_table('planned_slot', schema=None) as batch_op:
        batch_op.create_index('ix_planned_slot_agent_start', ['agent_id', 'start_ns'], unique=False)
        batch_op.create_index(batch_op.f('ix_planned_slot_commune_id'), ['commune_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('planned_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_planned_slot_commune_id'))
        batch_op.drop_index('ix_planned_slot_agent_start')

    op.drop_table('planned_slot')

