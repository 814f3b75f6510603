"""fleet: journal records, gaps, spans, presence

Revision ID: fleet_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'fleet_0001'
down_revision = None
branch_labels = ('fleet',)
depends_on = 'core_0001'


def upgrade() -> None:

    op.create_table('agent_presence',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('session', sa.BigInteger(), nullable=False),
    sa.Column('software', sa.String(length=256), nullable=False),
    sa.Column('birth_at', UTCDateTime(), nullable=True),
    sa.Column('death_at', UTCDateTime(), nullable=True),
    sa.Column('last_seen_at', UTCDateTime(), nullable=True),
    sa.Column('heartbeat', sa.Text(), nullable=False),
    sa.Column('telemetry', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id')
    )
    with op.batch_alter_table('agent_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_presence_commune_id'), ['commune_id'], unique=False)

    op.create_table('availability_span',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('journal_id', sa.String(length=32), nullable=False),
    sa.Column('interval', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('boot', sa.BigInteger(), nullable=False),
    sa.Column('start_mono_ns', sa.BigInteger(), nullable=True),
    sa.Column('start_wall_ns', sa.BigInteger(), nullable=True),
    sa.Column('end_mono_ns', sa.BigInteger(), nullable=False),
    sa.Column('end_wall_ns', sa.BigInteger(), nullable=False),
    sa.Column('evidence', sa.SmallInteger(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'journal_id', 'interval')
    )
    with op.batch_alter_table('availability_span', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_span_commune_id'), ['commune_id'], unique=False)

    op.create_table('journal_gap',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('journal_id', sa.String(length=32), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'journal_id', 'first_seq')
    )
    with op.batch_alter_table('journal_gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_gap_commune_id'), ['commune_id'], unique=False)

    op.create_table('journal_record',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('journal_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False),
    sa.Column('boot', sa.BigInteger(), nullable=False),
    sa.Column('mono_ns', sa.BigInteger(), nullable=False),
    sa.Column('wall_ns', sa.BigInteger(), nullable=False),
    sa.Column('quality', sa.SmallInteger(), nullable=False),
    sa.Column('interval', sa.BigInteger(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'journal_id', 'seq')
    )
    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.create_index('ix_journal_record_agent_wall', ['agent_id', 'wall_ns'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_record_commune_id'), ['commune_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_record_commune_id'))
        batch_op.drop_index('ix_journal_record_agent_wall')

    op.drop_table('journal_record')
    with op.batch_alter_table('journal_gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_gap_commune_id'))

    op.drop_table('journal_gap')
    with op.batch_alter_table('availability_span', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_span_commune_id'))

    op.drop_table('availability_span')
    with op.batch_alter_table('agent_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_presence_commune_id'))

    op.drop_table('agent_presence')

